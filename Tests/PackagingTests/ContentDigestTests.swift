// SPDX-License-Identifier: Apache-2.0
import Packaging
import Testing

/// Expected digests were computed with Python's hashlib over the byte strings named in each test.
@Suite("Content digest")
struct ContentDigestTests {
    @Test("empty and raw-byte digests are the FIPS 180-2 SHA-256 vectors")
    func rawBytes() {
        #expect(ContentDigest().finalize() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var digest = ContentDigest()
        Array("abc".utf8).withUnsafeBytes { digest.update($0) }
        #expect(digest.finalize() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("a length-prefixed string hashes its UTF-8 byte count as 8 little-endian bytes, then the bytes")
    func lengthPrefixed() {
        var abc = ContentDigest()
        abc.update(lengthPrefixed: "abc")  // sha256(pack('<Q', 3) + b'abc')
        #expect(abc.finalize() == "ce91dc5eec0139adf091900d225971d6ad246a845bad791b5693a9d0d55dd391")
        var accent = ContentDigest()
        accent.update(lengthPrefixed: "é")  // two UTF-8 bytes
        accent.update(integer: 0)  // sha256(pack('<Q', 2) + 'é'.encode() + pack('<Q', 0))
        #expect(accent.finalize() == "bc82a82a2759d683800a5097e697967435f1f289e5287af706589c5ace56c31a")
    }

    @Test("integers are hashed little-endian")
    func integers() {
        var digest = ContentDigest()
        digest.update(integer: 0x0102_0304_0506_0708)  // sha256(pack('<Q', 0x0102030405060708))
        #expect(digest.finalize() == "380b980886b7a3e726b5c2776160d7842b8f139eaea1e6acf7442cdf890e6287")
    }

    @Test("length prefixes keep consecutive strings apart: (ab, c) and (a, bc) differ")
    func stringsDoNotRunTogether() {
        var first = ContentDigest()
        first.update(lengthPrefixed: "ab")
        first.update(lengthPrefixed: "c")
        var second = ContentDigest()
        second.update(lengthPrefixed: "a")
        second.update(lengthPrefixed: "bc")
        #expect(first.finalize() != second.finalize())
        #expect(first.finalize().count == 64)
        #expect(first.finalize().allSatisfy { "0123456789abcdef".contains($0) })
    }
}
