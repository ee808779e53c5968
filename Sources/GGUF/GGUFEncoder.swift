// SPDX-License-Identifier: Apache-2.0

/// Appends GGUF encodings (little-endian integers, length-prefixed strings, typed values) to a byte buffer.
struct GGUFEncoder {
    private(set) var bytes: [UInt8] = []

    /// Bytes appended so far.
    var count: Int { bytes.count }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ bytes: [UInt8]) {
        self.bytes.append(contentsOf: bytes)
    }

    /// Appends a GGUF string: u64 byte length, then the UTF-8 bytes.
    mutating func append(_ string: String) {
        append(UInt64(string.utf8.count))
        bytes.append(contentsOf: string.utf8)
    }

    /// Appends a value with its u32 type tag.
    mutating func append(_ value: GGUFValue) {
        append(value.type.rawValue)
        switch value {
        case .uint8(let v): append(v)
        case .int8(let v): append(v)
        case .uint16(let v): append(v)
        case .int16(let v): append(v)
        case .uint32(let v): append(v)
        case .int32(let v): append(v)
        case .float32(let v): append(v.bitPattern)
        case .bool(let v): append(UInt8(v ? 1 : 0))
        case .string(let v): append(v)
        case .array(let v): append(v)
        case .uint64(let v): append(v)
        case .int64(let v): append(v)
        case .float64(let v): append(v.bitPattern)
        }
    }

    /// Appends an array payload: u32 element type, u64 count, the elements.
    mutating func append(_ array: GGUFArray) {
        append(array.elementType.rawValue)
        append(UInt64(array.count))
        switch array {
        case .uint8(let v): bytes.append(contentsOf: v)
        case .int8(let v): appendEach(v)
        case .uint16(let v): appendEach(v)
        case .int16(let v): appendEach(v)
        case .uint32(let v): appendEach(v)
        case .int32(let v): appendEach(v)
        case .float32(let v): appendEach(v.map(\.bitPattern))
        case .bool(let v): bytes.append(contentsOf: v.map { $0 ? 1 : 0 })
        case .string(let v): for string in v { append(string) }
        case .uint64(let v): appendEach(v)
        case .int64(let v): appendEach(v)
        case .float64(let v): appendEach(v.map(\.bitPattern))
        }
    }

    private mutating func appendEach<T: FixedWidthInteger>(_ values: [T]) {
        bytes.reserveCapacity(bytes.count + values.count * MemoryLayout<T>.size)
        for value in values { append(value) }
    }
}
