// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// The validated content of a safetensors JSON header.
struct SafeTensorsHeader: Equatable {
    /// The `__metadata__` object; nil when absent or JSON null.
    var metadata: [String: String]?
    /// Every tensor, sorted by data offset (ties by name bytes).
    var tensors: [SafeTensorsTensorInfo]

    /// The key that holds file-level metadata instead of a tensor.
    static let metadataKey = "__metadata__"

    /// Largest integer accepted in `shape` and `data_offsets` (2^53, the largest every JSON reader keeps exact).
    static let maxInteger = 1 << 53

    /// Dtype strings safetensors defines that ``DType`` does not cover (safetensors `tensor.rs`, `enum Dtype`).
    static let unsupportedDTypes: Set<String> = [
        "F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "C64",
    ]

    /// Parses and validates `json` (the header bytes at file offset 8) of `file`, whose data buffer is
    /// `dataByteCount` bytes long: entry syntax, dtypes, shape-vs-size, and exact tiling of the buffer.
    static func decode(
        _ json: UnsafeRawBufferPointer, file: String, dataByteCount: Int
    ) throws(SafeTensorsError) -> SafeTensorsHeader {
        let root = try StrictJSON.parseReporting(json, file: file, baseOffset: 8, isSafeTensorsHeader: true)
        guard case .object(let members) = root else { throw .headerNotObject(file: file) }
        var metadata: [String: String]? = nil
        var tensors: [SafeTensorsTensorInfo] = []
        tensors.reserveCapacity(members.count)
        for member in members {
            if member.key == metadataKey {
                metadata = try decodeMetadata(member.value, file: file)
            } else {
                tensors.append(try decodeTensor(named: member.key, member.value, file: file))
            }
        }
        tensors.sort { lhs, rhs in
            if lhs.byteRange.lowerBound != rhs.byteRange.lowerBound {
                return lhs.byteRange.lowerBound < rhs.byteRange.lowerBound
            }
            if lhs.byteRange.upperBound != rhs.byteRange.upperBound {
                return lhs.byteRange.upperBound < rhs.byteRange.upperBound
            }
            return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8)
        }
        try checkTiling(tensors, file: file, dataByteCount: dataByteCount)
        return SafeTensorsHeader(metadata: metadata, tensors: tensors)
    }

    private static func decodeMetadata(_ value: JSONNode, file: String) throws(SafeTensorsError) -> [String: String]? {
        switch value {
        case .null:
            return nil
        case .object(let members):
            var metadata: [String: String] = [:]
            for member in members {
                guard case .string(let text) = member.value else {
                    throw .metadataValueNotString(file: file, key: member.key)
                }
                metadata[member.key] = text
            }
            return metadata
        default:
            throw .metadataNotObject(file: file)
        }
    }

    private static func decodeTensor(
        named name: String, _ value: JSONNode, file: String
    ) throws(SafeTensorsError) -> SafeTensorsTensorInfo {
        guard case .object(let members) = value else { throw .tensorEntryNotObject(file: file, tensor: name) }
        func field(_ key: String) throws(SafeTensorsError) -> JSONNode {
            guard let member = members.first(where: { $0.key == key }) else {
                throw .missingField(file: file, tensor: name, field: key)
            }
            return member.value
        }
        func integers(_ key: String, _ value: JSONNode) throws(SafeTensorsError) -> [Int] {
            guard case .array(let items) = value else {
                throw .invalidField(file: file, tensor: name, field: key, reason: "is not an array")
            }
            var result: [Int] = []
            result.reserveCapacity(items.count)
            for item in items {
                guard let number = integerValue(item) else {
                    let reason = integerProblem(item)
                    throw .invalidField(file: file, tensor: name, field: key, reason: reason)
                }
                result.append(number)
            }
            return result
        }

        guard case .string(let dtypeName) = try field("dtype") else {
            throw .invalidField(file: file, tensor: name, field: "dtype", reason: "is not a string")
        }
        let shape = try integers("shape", try field("shape"))
        let offsets = try integers("data_offsets", try field("data_offsets"))
        guard offsets.count == 2 else {
            throw .invalidField(
                file: file, tensor: name, field: "data_offsets",
                reason: "has \(offsets.count) numbers instead of 2")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            if unsupportedDTypes.contains(dtypeName) {
                throw .unsupportedDType(file: file, tensor: name, dtype: dtypeName)
            }
            throw .unknownDType(file: file, tensor: name, dtype: dtypeName)
        }
        guard let expected = Shape.byteCount(shape, bytesPerElement: dtype.byteSize) else {
            throw .invalidShape(file: file, tensor: name, shape: shape)
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard end >= begin else { throw .reversedOffsets(file: file, tensor: name, begin: begin, end: end) }
        guard end - begin == expected else {
            throw .byteCountMismatch(file: file, tensor: name, expected: expected, actual: end - begin)
        }
        return SafeTensorsTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    /// The value of a JSON number that is a non-negative integer literal no larger than ``maxInteger``.
    private static func integerValue(_ value: JSONNode) -> Int? {
        guard case .number(let text) = value,
              text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              text.utf8.count <= 16,  // 2^53 has 16 digits; longer literals never reach the conversion
              let number = Int(text), number <= maxInteger
        else { return nil }
        return number
    }

    /// Why ``integerValue(_:)`` rejected `value`, for the error message.
    private static func integerProblem(_ value: JSONNode) -> String {
        guard case .number(let text) = value else { return "has an element that is not a number" }
        if text.hasPrefix("-") { return "has a negative number \(text)" }
        if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { return "has a non-integer number \(text)" }
        return "has a number above 2^53: \(text)"
    }

    /// Checks that the sorted tensors cover `0..<dataByteCount` exactly once, with no holes or overlaps.
    private static func checkTiling(
        _ tensors: [SafeTensorsTensorInfo], file: String, dataByteCount: Int
    ) throws(SafeTensorsError) {
        var covered = 0
        var previous = ""
        for tensor in tensors {
            let range = tensor.byteRange
            if range.lowerBound < covered {
                throw .overlappingTensors(file: file, tensor: tensor.name, previous: previous)
            }
            if range.lowerBound > covered {
                throw .gapBeforeTensor(file: file, tensor: tensor.name, gapStart: covered, gapEnd: range.lowerBound)
            }
            if range.upperBound > dataByteCount {
                throw .tensorBeyondFile(
                    file: file, tensor: tensor.name, end: range.upperBound, dataByteCount: dataByteCount)
            }
            covered = range.upperBound
            previous = tensor.name
        }
        if covered != dataByteCount {
            throw .trailingBytes(file: file, dataEnd: covered, dataByteCount: dataByteCount)
        }
    }
}

extension StrictJSON {
    /// Parses `bytes` and maps failures to ``SafeTensorsError`` cases naming `file`; `baseOffset` is the file
    /// offset of `bytes`, so reported offsets are file offsets.
    static func parseReporting(
        _ bytes: UnsafeRawBufferPointer, file: String, baseOffset: Int, isSafeTensorsHeader: Bool
    ) throws(SafeTensorsError) -> JSONNode {
        do {
            return try parse(bytes)
        } catch {
            switch error {
            case .notUTF8(let offset):
                if isSafeTensorsHeader { throw .headerNotUTF8(file: file, offset: baseOffset + offset) }
                throw .invalidJSON(file: file, offset: baseOffset + offset, reason: "not valid UTF-8")
            case .syntax(let offset, let reason):
                throw .invalidJSON(file: file, offset: baseOffset + offset, reason: reason)
            case .duplicateKey(let key, let path):
                throw .duplicateKey(file: file, key: key, path: path)
            }
        }
    }
}
