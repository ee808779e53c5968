// SPDX-License-Identifier: Apache-2.0

/// A bounds-checked little-endian cursor over the bytes of a GGUF file.
///
/// Every read first checks that the bytes are there and throws ``GGUFError/truncated(path:item:offset:needed:available:)``
/// otherwise, so no read can go past the end of the mapping.
struct GGUFByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    let limits: GGUFReadLimits
    private(set) var offset = 0

    init(bytes: UnsafeRawBufferPointer, path: String, limits: GGUFReadLimits) {
        self.bytes = bytes
        self.path = path
        self.limits = limits
    }

    /// Bytes left after the cursor.
    var remaining: Int { bytes.count - offset }

    /// Throws unless `count` items of `size` bytes each are left (without overflowing).
    func require(_ count: UInt64, of size: Int = 1, for item: GGUFItem) throws(GGUFError) {
        let (total, overflow) = count.multipliedReportingOverflow(by: UInt64(size))
        guard !overflow, total <= UInt64(remaining) else {
            throw .truncated(
                path: path, item: item, offset: offset, needed: overflow ? .max : total,
                available: remaining)
        }
    }

    /// Reads one little-endian fixed-width integer.
    mutating func read<T: FixedWidthInteger>(_: T.Type, for item: GGUFItem) throws(GGUFError) -> T {
        try require(1, of: MemoryLayout<T>.size, for: item)
        let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return value
    }

    /// Reads `count` little-endian fixed-width integers; the caller has checked the bytes are there.
    mutating func readArray<T: FixedWidthInteger>(_: T.Type, count: Int, for item: GGUFItem)
        throws(GGUFError) -> [T]
    {
        try require(UInt64(count), of: MemoryLayout<T>.size, for: item)
        let start = offset
        let bytes = self.bytes
        offset += count * MemoryLayout<T>.size
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count {
                buffer[i] = T(
                    littleEndian: bytes.loadUnaligned(
                        fromByteOffset: start + i * MemoryLayout<T>.size, as: T.self))
            }
            initialized = count
        }
    }

    /// Reads a GGUF string (u64 length, then that many UTF-8 bytes), checking the length against the
    /// remaining bytes and ``GGUFReadLimits/maxStringByteCount`` before touching the bytes.
    mutating func readString(for item: GGUFItem) throws(GGUFError) -> String {
        let start = offset
        let length = try read(UInt64.self, for: item)
        guard length <= UInt64(limits.maxStringByteCount) else {
            throw .limitExceeded(
                path: path, item: item, offset: start, limit: .stringByteCount, value: length,
                maximum: limits.maxStringByteCount)
        }
        try require(length, for: item)
        let count = Int(length)
        var text: String? = ""
        if count > 0, let base = bytes.baseAddress {
            let utf8 = UnsafeBufferPointer(
                start: (base + offset).assumingMemoryBound(to: UInt8.self), count: count)
            text = String(validating: utf8, as: UTF8.self)
        }
        guard let text else { throw .invalidUTF8(path: path, item: item, offset: start) }
        offset += count
        return text
    }

    /// Moves the cursor to `target`, which must not be beyond the end.
    mutating func seek(to target: Int, for item: GGUFItem) throws(GGUFError) {
        guard target >= offset else { return }
        try require(UInt64(target - offset), for: item)
        offset = target
    }
}
