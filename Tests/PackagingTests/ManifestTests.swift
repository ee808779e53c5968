// SPDX-License-Identifier: Apache-2.0
import Foundation
import Packaging
import Testing

@Suite("Manifest")
struct ManifestTests {
    @Test("every regular file is listed once, sorted by UTF-8 bytes, with its SHA-256")
    func listsEveryFile() throws {
        let temporary = try TemporaryDirectory()
        // FIPS 180-2 vectors: "abc", the empty string, and one million 'a'.
        try temporary.file("m/b/abc", Array("abc".utf8))
        try temporary.file("m/a.txt", [])
        try temporary.file("m/b.txt", Array(repeating: UInt8(ascii: "a"), count: 1_000_000))
        try temporary.file("m/Z", Array("abc".utf8))
        let (manifest, byteCount) = try BundleManifest.hash(
            directory: temporary.url.appendingPathComponent("m"), ignoring: IgnoreList([]))
        // Byte order: "Z" < "a.txt" < "b.txt" < "b/abc" ('.' 0x2E sorts before '/' 0x2F).
        #expect(manifest.resources.map(\.name) == ["Z", "a.txt", "b.txt", "b/abc"])
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        #expect(manifest.resources.map(\.hexDigest) == [
            abc, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", abc,
        ])
        #expect(byteCount == 1_000_006)
    }

    @Test("a file spanning several reads hashes like Python hashlib")
    func multiReadFile() throws {
        let temporary = try TemporaryDirectory()
        try temporary.file("m/big", Array(repeating: 0, count: 3 << 20) + Array(repeating: UInt8(ascii: "x"), count: 5))
        let (manifest, _) = try BundleManifest.hash(
            directory: temporary.url.appendingPathComponent("m"), ignoring: IgnoreList([]), workers: 1)
        // hashlib.sha256(b"\0" * (3 << 20) + b"x" * 5).hexdigest()
        #expect(manifest.resources.first?.hexDigest == "f6c3ae0a40f1d4b0c9c0620457d1ef1db4f376d227e129c5fef045aa11fadd40")
    }

    @Test("the root digest is SHA-256 over the raw digests in listed order")
    func rootDigest() throws {
        let abc = BundleManifest.Resource(name: "x", digest: try #require(hexBytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")))
        let empty = BundleManifest.Resource(name: "y", digest: try #require(hexBytes("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")))
        // hashlib.sha256(sha256(b"abc").digest() + sha256(b"").digest()).hexdigest()
        #expect(BundleManifest(resources: [abc, empty], ignorePaths: []).rootDigestHex
            == "6f1290896ee81a0349174d19f4473d267a10289c40480861d5c42affffbd79f9")
        #expect(BundleManifest(resources: [empty, abc], ignorePaths: []).rootDigestHex
            != "6f1290896ee81a0349174d19f4473d267a10289c40480861d5c42affffbd79f9")
    }

    @Test("ignored paths cover whole subtrees, and only from the top level")
    func ignoreRules() throws {
        let temporary = try TemporaryDirectory()
        let root = try makeModelDirectory(in: temporary)
        try temporary.file("model/sub dir/.git/config", Array("nested".utf8))
        try temporary.file("model/.github/workflows/ci.yml", Array("ci".utf8))
        let (manifest, _) = try BundleManifest.hash(directory: root, ignoring: IgnoreList(IgnoreList.gitPaths + ["tokenizer"]))
        let names = manifest.resources.map(\.name)
        #expect(names == ["config.json", "empty", "model.safetensors", "sub dir/.git/config", "sub dir/\u{00FC}ber weights.bin"])
    }

    @Test("parallel hashing gives the same manifest as one worker")
    func parallelMatchesSerial() throws {
        let temporary = try TemporaryDirectory()
        let root = try makeModelDirectory(in: temporary)
        for index in 0..<20 { try temporary.file("model/many/\(index)", randomBytes(index * 7_919, seed: UInt64(index))) }
        let serial = try BundleManifest.hash(directory: root, ignoring: IgnoreList([]), workers: 1).manifest
        let parallel = try BundleManifest.hash(directory: root, ignoring: IgnoreList([]), workers: 4).manifest
        #expect(serial == parallel)
        #expect(serial.resources.count == 27)
    }

    @Test("the difference is itemised: extra, missing and changed with both digests; order does not matter")
    func difference() {
        let a = BundleManifest.Resource(name: "a", digest: Array(repeating: 1, count: 32))
        let b = BundleManifest.Resource(name: "b", digest: Array(repeating: 2, count: 32))
        let bChanged = BundleManifest.Resource(name: "b", digest: Array(repeating: 3, count: 32))
        let c = BundleManifest.Resource(name: "c", digest: Array(repeating: 4, count: 32))
        let same = ManifestDifference(
            expected: BundleManifest(resources: [a, b], ignorePaths: []),
            actual: BundleManifest(resources: [b, a], ignorePaths: []))
        #expect(same.isEmpty)
        let difference = ManifestDifference(
            expected: BundleManifest(resources: [a, b], ignorePaths: []),
            actual: BundleManifest(resources: [bChanged, c], ignorePaths: []))
        #expect(difference.extra == [c])
        #expect(difference.missing == [a])
        #expect(difference.changed.map(\.name) == ["b"])
        #expect(difference.changed.first?.expected == b.digest)
        #expect(difference.changed.first?.actual == bChanged.digest)
    }

    @Test("names compare byte for byte: NFC and NFD spellings are different files")
    func namesAreBytes() {
        let nfc = BundleManifest.Resource(name: "caf\u{00E9}", digest: Array(repeating: 1, count: 32))
        let nfd = BundleManifest.Resource(name: "cafe\u{0301}", digest: Array(repeating: 1, count: 32))
        let difference = ManifestDifference(
            expected: BundleManifest(resources: [nfc], ignorePaths: []),
            actual: BundleManifest(resources: [nfd], ignorePaths: []))
        #expect(difference.missing.count == 1 && difference.extra.count == 1)
    }
}

/// Hex text to bytes (test helper, independent of the module's own decoder).
func hexBytes(_ text: String) -> [UInt8]? {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
        bytes.append(byte)
        index = next
    }
    return bytes
}
