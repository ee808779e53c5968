// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// What the parser extracts from a GGUF file.
struct GGUFContents {
    var version: UInt32
    var metadata: GGUFMetadata
    var tensors: [GGUFTensorInfo]
    var alignment: Int
    var dataOffset: Int
}

/// Parses and validates the header, metadata and tensor infos of a GGUF v2/v3 file and checks the data
/// section layout, following the rules of ggml's `gguf_init_from_reader` (`src/gguf.cpp`) plus the
/// caps of ``GGUFReadLimits``.
///
/// Parsing is iterative (arrays of arrays are rejected, as ggml does), and every count and length is
/// checked against the remaining bytes before anything is allocated.
struct GGUFParser {
    private var reader: GGUFByteReader
    private var path: String { reader.path }
    private var limits: GGUFReadLimits { reader.limits }

    /// One tensor info as read, before its data offset is checked.
    private struct TensorRecord {
        let name: String
        let dimensions: [Int]
        let typeID: UInt32
        let offset: UInt64
        let infoOffset: Int
        let sizes: (byteCount: Int, paddedByteCount: Int)?
    }

    init(bytes: UnsafeRawBufferPointer, path: String, limits: GGUFReadLimits) {
        reader = GGUFByteReader(bytes: bytes, path: path, limits: limits)
    }

    mutating func parse() throws(GGUFError) -> GGUFContents {
        let version = try readMagicAndVersion()
        let tensorCount = try readCount(limit: .tensorCount, maximum: limits.maxTensorCount)
        let entryCount = try readCount(limit: .keyValueCount, maximum: limits.maxKeyValueCount)
        try reader.require(UInt64(entryCount), of: GGUFLayout.minimumEntryByteCount, for: .header)
        try reader.require(
            UInt64(tensorCount), of: GGUFLayout.minimumTensorInfoByteCount, for: .header)

        var alignmentOffset = 0
        let metadata = try readMetadata(count: entryCount, alignmentOffset: &alignmentOffset)
        let alignment = try GGUFLayout.alignment(
            of: metadata, maximum: limits.maxAlignment, path: path, offset: alignmentOffset)

        var records: [TensorRecord] = []
        var seen = Set<String>()
        for index in 0..<tensorCount {
            records.append(try readTensorInfo(index: index, alignment: alignment, seen: &seen))
        }
        guard let dataOffset = Shape.alignUp(reader.offset, to: alignment) else {
            throw .truncated(
                path: path, item: .dataSection, offset: reader.offset, needed: .max, available: 0)
        }
        // Like ggml, seek to the data section only when there are tensors.
        if tensorCount > 0 { try reader.seek(to: dataOffset, for: .dataSection) }
        let tensors = try place(records, dataOffset: dataOffset, alignment: alignment)
        return GGUFContents(
            version: version, metadata: metadata, tensors: tensors, alignment: alignment,
            dataOffset: dataOffset)
    }

    // MARK: - Header

    private mutating func readMagicAndVersion() throws(GGUFError) -> UInt32 {
        if reader.bytes.count >= 4, !reader.bytes.prefix(4).elementsEqual(GGUFLayout.magic) {
            throw .badMagic(
                path: path, magic: Array(reader.bytes.prefix(4)),
                detected: GGUFMisidentifiedFormat(prefix: reader.bytes))
        }
        _ = try reader.read(UInt32.self, for: .header)
        let version = try reader.read(UInt32.self, for: .header)
        if version == 0 { throw .unsupportedVersion(path: path, version: version) }
        if version & 0xFFFF == 0 { throw .byteOrderMismatch(path: path, version: version) }
        if version == 1 || version > 3 { throw .unsupportedVersion(path: path, version: version) }
        return version
    }

    private mutating func readCount(limit: GGUFLimit, maximum: Int) throws(GGUFError) -> Int {
        let offset = reader.offset
        let count = try reader.read(UInt64.self, for: .header)
        guard count <= UInt64(maximum), let result = Int(exactly: count) else {
            throw .limitExceeded(
                path: path, item: .header, offset: offset, limit: limit, value: count,
                maximum: maximum)
        }
        return result
    }

    // MARK: - Metadata

    private mutating func readMetadata(
        count: Int, alignmentOffset: inout Int
    ) throws(GGUFError) -> GGUFMetadata {
        var metadata = GGUFMetadata()
        for index in 0..<count {
            let keyOffset = reader.offset
            let key = try reader.readString(for: .key(index: index))
            guard !key.isEmpty else { throw .emptyKey(path: path, index: index, offset: keyOffset) }
            guard !metadata.contains(key) else {
                throw .duplicateKey(path: path, key: key, offset: keyOffset)
            }
            if key == GGUFKey.General.alignment { alignmentOffset = reader.offset }
            metadata[key] = try readValue(key: key)
        }
        return metadata
    }

    private mutating func readValueType(key: String) throws(GGUFError) -> GGUFValueType {
        let offset = reader.offset
        let id = try reader.read(UInt32.self, for: .value(key: key))
        guard let type = GGUFValueType(rawValue: id) else {
            throw .unknownValueType(path: path, key: key, offset: offset, typeID: id)
        }
        return type
    }

    private mutating func readValue(key: String) throws(GGUFError) -> GGUFValue {
        let item = GGUFItem.value(key: key)
        let type = try readValueType(key: key)
        switch type {
        case .uint8: return .uint8(try reader.read(UInt8.self, for: item))
        case .int8: return .int8(try reader.read(Int8.self, for: item))
        case .uint16: return .uint16(try reader.read(UInt16.self, for: item))
        case .int16: return .int16(try reader.read(Int16.self, for: item))
        case .uint32: return .uint32(try reader.read(UInt32.self, for: item))
        case .int32: return .int32(try reader.read(Int32.self, for: item))
        case .float32: return .float32(Float(bitPattern: try reader.read(UInt32.self, for: item)))
        case .bool: return .bool(try readBools(count: 1, key: key)[0])
        case .string: return .string(try reader.readString(for: item))
        case .array: return .array(try readArray(key: key))
        case .uint64: return .uint64(try reader.read(UInt64.self, for: item))
        case .int64: return .int64(try reader.read(Int64.self, for: item))
        case .float64: return .float64(Double(bitPattern: try reader.read(UInt64.self, for: item)))
        }
    }

    private mutating func readArray(key: String) throws(GGUFError) -> GGUFArray {
        let item = GGUFItem.value(key: key)
        let typeOffset = reader.offset
        let elementType = try readValueType(key: key)
        if elementType == .array { throw .nestedArray(path: path, key: key, offset: typeOffset) }
        let countOffset = reader.offset
        let rawCount = try reader.read(UInt64.self, for: item)
        guard rawCount <= UInt64(limits.maxArrayCount) else {
            throw .limitExceeded(
                path: path, item: item, offset: countOffset, limit: .arrayCount, value: rawCount,
                maximum: limits.maxArrayCount)
        }
        // Strings take at least their 8-byte length each.
        try reader.require(rawCount, of: elementType.fixedByteCount ?? 8, for: item)
        let count = Int(rawCount)
        switch elementType {
        case .uint8: return .uint8(try reader.readArray(UInt8.self, count: count, for: item))
        case .int8: return .int8(try reader.readArray(Int8.self, count: count, for: item))
        case .uint16: return .uint16(try reader.readArray(UInt16.self, count: count, for: item))
        case .int16: return .int16(try reader.readArray(Int16.self, count: count, for: item))
        case .uint32: return .uint32(try reader.readArray(UInt32.self, count: count, for: item))
        case .int32: return .int32(try reader.readArray(Int32.self, count: count, for: item))
        case .float32:
            return .float32(
                try reader.readArray(UInt32.self, count: count, for: item).map(
                    Float.init(bitPattern:)))
        case .bool: return .bool(try readBools(count: count, key: key))
        case .string:
            var strings: [String] = []
            strings.reserveCapacity(count)
            for _ in 0..<count { strings.append(try reader.readString(for: item)) }
            return .string(strings)
        case .uint64: return .uint64(try reader.readArray(UInt64.self, count: count, for: item))
        case .int64: return .int64(try reader.readArray(Int64.self, count: count, for: item))
        case .float64:
            return .float64(
                try reader.readArray(UInt64.self, count: count, for: item).map(
                    Double.init(bitPattern:)))
        case .array: throw .nestedArray(path: path, key: key, offset: typeOffset)
        }
    }

    /// Reads BOOL bytes, which must be 0 or 1 (the GGUF spec; ggml itself reads any non-zero byte as true).
    private mutating func readBools(count: Int, key: String) throws(GGUFError) -> [Bool] {
        let start = reader.offset
        let raw = try reader.readArray(UInt8.self, count: count, for: .value(key: key))
        if let bad = raw.firstIndex(where: { $0 > 1 }) {
            throw .invalidBool(path: path, key: key, offset: start + bad, byte: raw[bad])
        }
        return raw.map { $0 == 1 }
    }

    // MARK: - Tensor infos

    private mutating func readTensorInfo(
        index: Int, alignment: Int, seen: inout Set<String>
    ) throws(GGUFError) -> TensorRecord {
        let infoOffset = reader.offset
        let name = try reader.readString(for: .tensorName(index: index))
        try GGUFLayout.checkTensorName(name, path: path, offset: infoOffset, seen: &seen)
        let item = GGUFItem.tensorInfo(name: name)
        let dimensionCount = try reader.read(UInt32.self, for: item)
        try GGUFLayout.checkDimensionCount(
            dimensionCount, tensor: name, path: path, offset: infoOffset)
        // ne is signed in ggml: values of 2^63 and above become negative and are rejected as such.
        let dimensions = try reader.readArray(UInt64.self, count: Int(dimensionCount), for: item)
            .map { Int(truncatingIfNeeded: $0) }
        let typeID = try reader.read(UInt32.self, for: item)
        try GGUFLayout.checkShape(
            dimensions: dimensions, tensor: name, path: path, offset: infoOffset)
        var sizes: (byteCount: Int, paddedByteCount: Int)?
        if let type = GGMLType(rawValue: typeID) {
            sizes = try GGUFLayout.sizes(
                dimensions: dimensions, type: type, alignment: alignment, tensor: name, path: path,
                offset: infoOffset)
        }
        let offset = try reader.read(UInt64.self, for: item)
        return TensorRecord(
            name: name, dimensions: dimensions, typeID: typeID, offset: offset,
            infoOffset: infoOffset,
            sizes: sizes)
    }

    // MARK: - Data section

    /// Checks that tensor data is packed exactly as ggml requires (offset_i = sum of the padded sizes of
    /// the tensors before it) and lies inside the file, and that nothing follows the last tensor's padding.
    ///
    /// After a tensor of unknown type the next offset cannot be predicted; it must then be aligned and
    /// not below the previous one. A missing (or partial) final padding is accepted, as llama.cpp's
    /// mmap loader accepts it.
    private func place(
        _ records: [TensorRecord], dataOffset: Int, alignment: Int
    ) throws(GGUFError) -> [GGUFTensorInfo] {
        let fileSize = reader.bytes.count
        var expected: Int? = 0
        var previous = 0
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(records.count)
        for record in records {
            if let expected {
                guard record.offset == UInt64(expected) else {
                    throw .tensorOffsetMismatch(
                        path: path, tensor: record.name, expected: expected, actual: record.offset)
                }
            } else {
                guard record.offset % UInt64(alignment) == 0 else {
                    throw .misalignedTensorOffset(
                        path: path, tensor: record.name, offset: record.offset, alignment: alignment
                    )
                }
                guard record.offset >= UInt64(previous) else {
                    throw .tensorOffsetOutOfOrder(
                        path: path, tensor: record.name, offset: record.offset, previous: previous)
                }
            }
            let length = record.sizes?.byteCount ?? 0
            guard let offset = Int(exactly: record.offset),
                let end = Self.sum(dataOffset, offset, length), end <= fileSize
            else {
                let end = Int(exactly: record.offset).flatMap { Self.sum(dataOffset, $0, length) }
                throw .tensorDataOutOfBounds(
                    path: path, tensor: record.name, end: end, fileSize: fileSize)
            }
            if let sizes = record.sizes {
                guard let next = Self.sum(offset, sizes.paddedByteCount) else {
                    throw .byteCountOverflow(
                        path: path, tensor: record.name, offset: record.infoOffset)
                }
                expected = next
            } else {
                expected = nil
            }
            previous = offset
            tensors.append(
                GGUFTensorInfo(
                    name: record.name, dimensions: record.dimensions, typeID: record.typeID,
                    offset: offset))
        }
        try checkEnd(tensorCount: records.count, dataOffset: dataOffset, paddedDataSize: expected)
        return tensors
    }

    /// Rejects bytes after the padded end of the data (or of the tensor infos when there are no tensors).
    ///
    /// Skipped when ``GGUFReadLimits/allowsTrailingBytes`` is set or the last tensor's type is unknown.
    private func checkEnd(tensorCount: Int, dataOffset: Int, paddedDataSize: Int?) throws(GGUFError)
    {
        guard !limits.allowsTrailingBytes, let paddedDataSize else { return }
        let fileSize = reader.bytes.count
        let expectedSize =
            tensorCount == 0 ? dataOffset : Self.sum(dataOffset, paddedDataSize) ?? .max
        if fileSize > expectedSize {
            throw .trailingBytes(path: path, expectedSize: expectedSize, actualSize: fileSize)
        }
    }

    private static func sum(_ values: Int...) -> Int? {
        var total = 0
        for value in values {
            let (next, overflow) = total.addingReportingOverflow(value)
            if overflow { return nil }
            total = next
        }
        return total
    }
}
