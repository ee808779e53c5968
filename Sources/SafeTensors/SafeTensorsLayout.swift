// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// The planned bytes of one safetensors file before any tensor data is written: tensor order, offsets and
/// the complete header, laid out as safetensors' reference writer (`prepare` in `tensor.rs`) lays them out.
struct SafeTensorsLayout {
    /// The tensors in data order, each with its range in the data buffer.
    let tensors: [(entry: SafeTensorsWriter.Entry, byteRange: Range<Int>)]
    /// The 8-byte little-endian header length followed by the space-padded header JSON.
    let headerBytes: [UInt8]

    /// Largest header the writer emits: the reference reader's cap, so every written file can be read back.
    static let maxHeaderByteCount = 100_000_000

    /// Plans a file at `file` holding `entries` (in any order) and `metadata`.
    ///
    /// Data order is dtype alignment rank descending, then name by UTF-8 bytes ascending. The header is compact
    /// JSON: `__metadata__` first (keys sorted by UTF-8 bytes; omitted when nil), then one entry per tensor in data
    /// order with keys `dtype`, `shape`, `data_offsets`, then spaces up to a multiple of 8 bytes.
    init(file: String, entries: [SafeTensorsWriter.Entry], metadata: [String: String]?) throws(SafeTensorsError) {
        let byteCounts = try Self.validatedByteCounts(of: entries, file: file)
        let order = entries.indices.sorted { lhs, rhs in
            let (a, b) = (entries[lhs], entries[rhs])
            if a.dtype.alignmentRank != b.dtype.alignmentRank { return a.dtype.alignmentRank > b.dtype.alignmentRank }
            return utf8Ascending(a.name, b.name)
        }
        var planned: [(entry: SafeTensorsWriter.Entry, byteRange: Range<Int>)] = []
        planned.reserveCapacity(entries.count)
        var offset = 0
        for index in order {
            let (end, overflow) = offset.addingReportingOverflow(byteCounts[index])
            guard !overflow, end <= SafeTensorsHeader.maxInteger else {
                throw .invalidShape(file: file, tensor: entries[index].name, shape: entries[index].shape)
            }
            planned.append((entries[index], offset..<end))
            offset = end
        }

        var json: [UInt8] = [UInt8(ascii: "{")]
        var needsComma = false
        if let metadata {
            JSONText.appendString(SafeTensorsHeader.metadataKey, to: &json, asciiOnly: false)
            json.append(contentsOf: Array(":{".utf8))
            for (position, key) in metadata.keys.sorted(by: utf8Ascending).enumerated() {
                if position > 0 { json.append(UInt8(ascii: ",")) }
                JSONText.appendString(key, to: &json, asciiOnly: false)
                json.append(UInt8(ascii: ":"))
                JSONText.appendString(metadata[key] ?? "", to: &json, asciiOnly: false)
            }
            json.append(UInt8(ascii: "}"))
            needsComma = true
        }
        for (entry, range) in planned {
            if needsComma { json.append(UInt8(ascii: ",")) }
            needsComma = true
            JSONText.appendString(entry.name, to: &json, asciiOnly: false)
            json.append(contentsOf: Array(#":{"dtype":"#.utf8))
            JSONText.appendString(entry.dtype.rawValue, to: &json, asciiOnly: false)
            json.append(contentsOf: Array(#","shape":["#.utf8))
            for (position, dim) in entry.shape.enumerated() {
                if position > 0 { json.append(UInt8(ascii: ",")) }
                JSONText.appendInteger(dim, to: &json)
            }
            json.append(contentsOf: Array(#"],"data_offsets":["#.utf8))
            JSONText.appendInteger(range.lowerBound, to: &json)
            json.append(UInt8(ascii: ","))
            JSONText.appendInteger(range.upperBound, to: &json)
            json.append(contentsOf: Array("]}".utf8))
        }
        json.append(UInt8(ascii: "}"))
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        guard json.count <= Self.maxHeaderByteCount else {
            throw .headerTooLarge(file: file, headerByteCount: UInt64(json.count), limit: Self.maxHeaderByteCount)
        }
        var header = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        header.append(contentsOf: json)
        headerBytes = header
        tensors = planned
    }

    /// The byte count of each entry, after checking names and shapes.
    ///
    /// Rejects the reserved name `__metadata__`, repeated names, negative dimensions, dimensions above 2^53
    /// (readers would reject them) and byte counts that overflow.
    static func validatedByteCounts(
        of entries: [SafeTensorsWriter.Entry], file: String
    ) throws(SafeTensorsError) -> [Int] {
        var names: Set<String> = []
        var counts: [Int] = []
        counts.reserveCapacity(entries.count)
        for entry in entries {
            guard entry.name != SafeTensorsHeader.metadataKey else { throw .reservedTensorName(file: file) }
            guard names.insert(entry.name).inserted else { throw .duplicateEntry(file: file, tensor: entry.name) }
            guard entry.shape.allSatisfy({ $0 <= SafeTensorsHeader.maxInteger }),
                  let count = Shape.byteCount(entry.shape, bytesPerElement: entry.dtype.byteSize)
            else { throw .invalidShape(file: file, tensor: entry.name, shape: entry.shape) }
            counts.append(count)
        }
        return counts
    }
}
