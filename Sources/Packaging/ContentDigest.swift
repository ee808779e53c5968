// SPDX-License-Identifier: Apache-2.0
import Crypto

/// An incremental SHA-256 over bytes and strings, for digests that identify content (models, tokenizers, data).
public struct ContentDigest {
    private var hasher = SHA256()

    /// Starts an empty digest.
    public init() {}

    /// Adds raw bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }

    /// Adds the UTF-8 bytes of `text` preceded by their count (8 bytes, little-endian), so that consecutive
    /// strings cannot run into each other.
    public mutating func update(lengthPrefixed text: String) {
        let utf8 = Array(text.utf8)
        update(integer: UInt64(utf8.count))
        utf8.withUnsafeBytes { update($0) }
    }

    /// Adds an integer as 8 little-endian bytes.
    public mutating func update(integer value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { update($0) }
    }

    /// The lowercase hexadecimal SHA-256 of everything added.
    public func finalize() -> String { Hex.encode(Array(hasher.finalize())) }
}
