// SPDX-License-Identifier: Apache-2.0
import Foundation
import Packaging
import TensorCore

/// A fresh directory under the system temporary directory, removed when the object goes away.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("quail-packaging-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `bytes` to the relative `name` (creating parent directories) and returns its URL.
    @discardableResult
    func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let target = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(
            at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: target)
        return target
    }

    /// A subdirectory URL (created).
    func directory(_ name: String) throws -> URL {
        let target = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        return target
    }
}

/// Seeded pseudo-random bytes.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count + 8)
    while bytes.count < count { withUnsafeBytes(of: rng.next()) { bytes.append(contentsOf: $0) } }
    return Array(bytes.prefix(count))
}

/// A small model-like directory: weights across several reads, nested files, spaces and non-ASCII in a name,
/// an empty file, and git files that signing must leave out.
func makeModelDirectory(in temporary: TemporaryDirectory, name: String = "model") throws -> URL {
    let root = try temporary.directory(name)
    let files: [(String, [UInt8])] = [
        ("model.safetensors", randomBytes(2_500_000, seed: 1)),
        ("config.json", Array("{\"hidden_size\": 64}\n".utf8)),
        ("tokenizer/tokenizer.json", randomBytes(70_001, seed: 2)),
        ("sub dir/\u{00FC}ber weights.bin", randomBytes(1 << 20, seed: 3)),
        ("empty", []),
        (".gitattributes", Array("*.bin filter=lfs\n".utf8)),
        (".git/HEAD", Array("ref: refs/heads/main\n".utf8)),
    ]
    for (path, bytes) in files {
        let target = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: target)
    }
    return root
}

/// Everything observable about a directory tree: names, types, sizes, modification times, modes and contents.
func snapshot(of root: URL) throws -> [String] {
    var entries: [String] = []
    let manager = FileManager.default
    let paths = try manager.subpathsOfDirectory(atPath: root.path).sorted()
    for path in paths {
        let full = root.appendingPathComponent(path).path
        var info = stat()
        guard lstat(full, &info) == 0 else { throw CocoaError(.fileReadUnknown) }
        var entry = "\(path) mode=\(info.st_mode) size=\(info.st_size) mtime=\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        if info.st_mode & S_IFMT == S_IFREG { entry += " bytes=\(Array(try Data(contentsOf: URL(fileURLWithPath: full))).hashValue)" }
        entries.append(entry)
    }
    var rootInfo = stat()
    _ = lstat(root.path, &rootInfo)
    entries.append(". mtime=\(rootInfo.st_mtim.tv_sec).\(rootInfo.st_mtim.tv_nsec)")
    return entries
}

/// Flips the lowest bit of the byte at `offset` of `url`.
func flipByte(of url: URL, at offset: Int) throws {
    var bytes = Array(try Data(contentsOf: url))
    bytes[offset] ^= 1
    try Data(bytes).write(to: url)
}

/// Public test vectors made outside Quail with Python `cryptography` 50.0.2 and `model_signing` 1.1.1.
enum ReferenceVectors {
    /// A P-256 private key in SEC1 form (`EC PRIVATE KEY`), written by `cryptography`.
    static let p256SEC1 = """
        -----BEGIN EC PRIVATE KEY-----
        MHcCAQEEIJLunMG9QBf4qRRkkA4gG8XRRt3LGZ0ol68mPVkrIBkeoAoGCCqGSM49
        AwEHoUQDQgAEirbhT3I+GmSO6SEOoDB0Xk5bE6Tt9Zt83A4zG4+hp+H+SF8cHiaK
        HbTphXCmXlQDmTtgLPe5FXD4T3ukZ8s4pQ==
        -----END EC PRIVATE KEY-----

        """
    /// Its public key, as `cryptography` writes SubjectPublicKeyInfo PEM.
    static let p256Public = """
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEirbhT3I+GmSO6SEOoDB0Xk5bE6Tt
        9Zt83A4zG4+hp+H+SF8cHiaKHbTphXCmXlQDmTtgLPe5FXD4T3ukZ8s4pQ==
        -----END PUBLIC KEY-----

        """
    /// `hashlib.sha256(p256Public.encode()).hexdigest()`, the hint model_signing writes for this key.
    static let p256Hint = "fa61397cc4c2a75d8b5bf543a6cdb7595d69a28c73f6cf61ba253c9e35239cce"

    static let ed25519Public = """
        -----BEGIN PUBLIC KEY-----
        MCowBQYDK2VwAyEA4EqBwbVFG1yjKjBcizO8tyBTVPaeNlPP90/hrZdbxCk=
        -----END PUBLIC KEY-----

        """
    static let secp256k1Public = """
        -----BEGIN PUBLIC KEY-----
        MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEfEw940eaCVz0YMJqNZEUO7lBN/F3ZgZS
        fUBG31m3sgmjP4iV1tCQV2WpebeX6Bn+tim/PRWANT5otx+rDQa96A==
        -----END PUBLIC KEY-----

        """
    static let rsaPublic = """
        -----BEGIN PUBLIC KEY-----
        MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCoDOSsGga6XUYf1qeLBBcm4mt2
        ERArmxydcuD5iPLkdv4Cr9AQgboVLJaFu3rHYnkVm7F0yObLJpVp0uIvellpegEI
        mqTyeZ8s+R9QKTJVCKaI0l+Ck4FWLsH8cJ6DNkj6rR0vEYJvd/1/CDmpsd4N9fRV
        0trGnN3eVdM6DqwfFwIDAQAB
        -----END PUBLIC KEY-----

        """

    /// The files `model_signing sign key` signed into ``modelSigningBundle`` (directory `model`).
    static let signedFiles: [(String, [UInt8])] = [
        ("a.txt", Array("alpha\n".utf8)), ("sub/\u{00FC} b.txt", Array("beta\n".utf8)), ("empty", []),
    ]
    /// `sha256(b"alpha\n")`, as listed in the bundle.
    static let alphaDigest = "b6a98d9ce9a2d9149288fa3df42d377c3e42737afdcdaf714e33c0a100b51060"

    /// `model_signing sign key model --private_key <p256SEC1> --signature model/model.sig` (1.1.1): its payload is
    /// protobuf JSON with two-space indentation and shuffled keys, and `ignore_paths` in set order.
    static let modelSigningBundle = """
        {"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"fa61397cc4c2a75d8b5bf543a6cdb7595d69a28c73f6cf61ba253c9e35239cce"},"tlogEntries":[]},"dsseEnvelope":{"payload":"ewogICJfdHlwZSI6ICJodHRwczovL2luLXRvdG8uaW8vU3RhdGVtZW50L3YxIiwKICAic3ViamVjdCI6IFsKICAgIHsKICAgICAgIm5hbWUiOiAibW9kZWwiLAogICAgICAiZGlnZXN0IjogewogICAgICAgICJzaGEyNTYiOiAiOWE0ODFhNzBlMzRkYTlkMThjN2NlNDVlN2FhNTk0OTYzZDMyMDgyMWVjYTQ4MzM3NjI4ZTYyYzkyMWM2ZDFiZCIKICAgICAgfQogICAgfQogIF0sCiAgInByZWRpY2F0ZVR5cGUiOiAiaHR0cHM6Ly9tb2RlbF9zaWduaW5nL3NpZ25hdHVyZS92MS4wIiwKICAicHJlZGljYXRlIjogewogICAgInNlcmlhbGl6YXRpb24iOiB7CiAgICAgICJhbGxvd19zeW1saW5rcyI6IGZhbHNlLAogICAgICAibWV0aG9kIjogImZpbGVzIiwKICAgICAgImhhc2hfdHlwZSI6ICJzaGEyNTYiLAogICAgICAiaWdub3JlX3BhdGhzIjogWwogICAgICAgICIuZ2l0IiwKICAgICAgICAiLmdpdGh1YiIsCiAgICAgICAgIi5naXRhdHRyaWJ1dGVzIiwKICAgICAgICAibW9kZWwuc2lnIiwKICAgICAgICAiLmdpdGlnbm9yZSIKICAgICAgXQogICAgfSwKICAgICJyZXNvdXJjZXMiOiBbCiAgICAgIHsKICAgICAgICAiYWxnb3JpdGhtIjogInNoYTI1NiIsCiAgICAgICAgIm5hbWUiOiAiYS50eHQiLAogICAgICAgICJkaWdlc3QiOiAiYjZhOThkOWNlOWEyZDkxNDkyODhmYTNkZjQyZDM3N2MzZTQyNzM3YWZkY2RhZjcxNGUzM2MwYTEwMGI1MTA2MCIKICAgICAgfSwKICAgICAgewogICAgICAgICJhbGdvcml0aG0iOiAic2hhMjU2IiwKICAgICAgICAibmFtZSI6ICJlbXB0eSIsCiAgICAgICAgImRpZ2VzdCI6ICJlM2IwYzQ0Mjk4ZmMxYzE0OWFmYmY0Yzg5OTZmYjkyNDI3YWU0MWU0NjQ5YjkzNGNhNDk1OTkxYjc4NTJiODU1IgogICAgICB9LAogICAgICB7CiAgICAgICAgImFsZ29yaXRobSI6ICJzaGEyNTYiLAogICAgICAgICJuYW1lIjogInN1Yi9cdTAwZmMgYi50eHQiLAogICAgICAgICJkaWdlc3QiOiAiZjJjODJkZWNkZDcxODFjZjk4OTQ1OTI5YTYyNTk4ZGI3ZTZiNDc3ZTExZjZlMGViMGFlOTcwMjBlZmYxNTFhZCIKICAgICAgfQogICAgXQogIH0KfQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEQCIDrKmv/8AEZL5FJ5XlLxsrmcE3omF2DE5qmnDtKhM0h7AiAzyyRjZxo83WEDaJgifuLLs6JkPoEY9btu1XGtC9NWnQ==","keyid":""}]}}
        """

    /// Writes the ``signedFiles`` and ``modelSigningBundle`` (as `model.sig`) into a new directory `model`.
    static func modelSigningDirectory(in temporary: TemporaryDirectory) throws -> URL {
        for (name, bytes) in signedFiles { try temporary.file("model/\(name)", bytes) }
        try temporary.file("model/model.sig", Array(modelSigningBundle.utf8))
        return temporary.url.appendingPathComponent("model")
    }
}

/// Writes `text` into `name` inside `temporary` and returns the URL.
func writeText(_ text: String, _ name: String, in temporary: TemporaryDirectory) throws -> URL {
    try temporary.file(name, Array(text.utf8))
}
