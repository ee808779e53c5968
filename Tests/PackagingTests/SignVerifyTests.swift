// SPDX-License-Identifier: Apache-2.0
import Foundation
import Packaging
import Testing

/// A signed copy of the model directory and its key.
struct SignedModel {
    let temporary: TemporaryDirectory
    let root: URL
    let key: SigningKey
    var signature: URL { root.appendingPathComponent("model.sig") }

    init(curve: ECDSACurve = .p256) throws {
        temporary = try TemporaryDirectory()
        root = try makeModelDirectory(in: temporary)
        key = SigningKey.generate(curve: curve)
        _ = try BundleSigner.sign(directory: root, key: key)
    }

    func verify(with other: VerificationKey? = nil) throws(PackagingError) -> VerificationReport {
        try BundleVerifier.verify(directory: root, key: other ?? key.verificationKey)
    }

    func bundle() throws -> SigstoreBundle {
        let bytes = Array(try Data(contentsOf: signature))
        return try bytes.withUnsafeBytes { try SigstoreBundle(decoding: $0, file: signature.path) }
    }
}

@Suite("Sign and verify")
struct SignVerifyTests {
    @Test("sign then verify passes, records the ignore list and leaves git files out", arguments: ECDSACurve.allCases)
    func roundTrip(curve: ECDSACurve) throws {
        let model = try SignedModel(curve: curve)
        let report = try model.verify()
        #expect(report.isVerified)
        #expect(report.hintChecked)
        #expect(report.curve == curve)
        #expect(report.signed.resources.map(\.name) == [
            "config.json", "empty", "model.safetensors", "sub dir/\u{00FC}ber weights.bin", "tokenizer/tokenizer.json",
        ])
        #expect(report.signed.ignorePaths == ["model.sig", ".git", ".gitattributes", ".github", ".gitignore"])
        #expect(report.byteCount == 2_500_000 + 20 + 70_001 + (1 << 20))
    }

    @Test("signing twice gives the same statement; only the ECDSA signature differs")
    func deterministic() throws {
        let model = try SignedModel()
        let first = try model.bundle()
        _ = try BundleSigner.sign(directory: model.root, key: model.key, overwrite: true)
        let second = try model.bundle()
        #expect(first.payload == second.payload)
        #expect(first.publicKeyHint == second.publicKeyHint)
        #expect(first.signature != second.signature)
    }

    @Test("an existing signature is kept unless overwrite is asked")
    func keepsExistingSignature() throws {
        let model = try SignedModel()
        let before = try Data(contentsOf: model.signature)
        #expect(throws: PackagingError.outputExists(path: model.signature.path)) {
            try BundleSigner.sign(directory: model.root, key: model.key)
        }
        #expect(try Data(contentsOf: model.signature) == before)
    }

    @Test("a signature outside the directory is not recorded; a stray model.sig is then an extra file")
    func outsideSignature() throws {
        let model = try SignedModel()
        try FileManager.default.removeItem(at: model.signature)
        let outside = model.temporary.url.appendingPathComponent("elsewhere.sig")
        let report = try BundleSigner.sign(directory: model.root, key: model.key, signature: outside)
        #expect(report.manifest.ignorePaths == IgnoreList.gitPaths)
        let key = model.key.verificationKey
        #expect(try BundleVerifier.verify(directory: model.root, key: key, signature: outside).isVerified)
        try model.temporary.file("model/model.sig", Array("{}".utf8))
        let difference = try BundleVerifier.verify(directory: model.root, key: key, signature: outside).difference
        #expect(difference.extra.map(\.name) == ["model.sig"])
    }

    @Test("one flipped byte in any file is reported as changed with both digests")
    func flippedByte() throws {
        let model = try SignedModel()
        let signed = try model.verify().signed
        for resource in signed.resources where resource.name != "empty" {
            let url = model.root.appendingPathComponent(resource.name)
            let original = try Data(contentsOf: url)
            try flipByte(of: url, at: original.count / 2)
            let difference = try model.verify().difference
            #expect(difference.changed.map(\.name) == [resource.name])
            #expect(difference.changed.first?.expected == resource.digest)
            #expect(difference.changed.first?.actual != resource.digest)
            #expect(difference.extra.isEmpty && difference.missing.isEmpty)
            try original.write(to: url)
        }
        #expect(try model.verify().isVerified)
    }

    @Test("added, removed and renamed files are itemised")
    func addedRemovedRenamed() throws {
        let model = try SignedModel()
        try model.temporary.file("model/sub dir/new.txt", Array("x".utf8))
        var difference = try model.verify().difference
        #expect(difference.extra.map(\.name) == ["sub dir/new.txt"])
        #expect(difference.missing.isEmpty && difference.changed.isEmpty)
        try FileManager.default.removeItem(at: model.root.appendingPathComponent("sub dir/new.txt"))

        let config = model.root.appendingPathComponent("config.json")
        let saved = try Data(contentsOf: config)
        try FileManager.default.removeItem(at: config)
        difference = try model.verify().difference
        #expect(difference.missing.map(\.name) == ["config.json"])
        #expect(difference.extra.isEmpty)

        try saved.write(to: model.root.appendingPathComponent("config2.json"))
        difference = try model.verify().difference
        #expect(difference.missing.map(\.name) == ["config.json"])
        #expect(difference.extra.map(\.name) == ["config2.json"])
        #expect(difference.missing.first?.digest == difference.extra.first?.digest)
    }

    @Test("a modified statement fails the ECDSA check")
    func modifiedStatement() throws {
        let model = try SignedModel()
        let bundle = try model.bundle()
        var text = String(decoding: bundle.payload, as: UTF8.self)
        text = text.replacingOccurrences(of: "\"config.json\"", with: "\"config.jsom\"")
        let forged = SigstoreBundle(publicKeyHint: bundle.publicKeyHint, payload: Array(text.utf8), signature: bundle.signature)
        try Data(forged.encoded()).write(to: model.signature)
        #expect(throws: PackagingError.invalidSignature(path: model.signature.path)) { try model.verify() }
    }

    @Test("a wrong key fails on the hint, and on the signature when the hint is removed")
    func wrongKey() throws {
        let model = try SignedModel()
        let other = SigningKey.generate().verificationKey
        #expect(throws: PackagingError.keyMismatch(
            path: model.signature.path, hint: model.key.verificationKey.hint, keyHint: other.hint)) { try model.verify(with: other) }
        let bundle = try model.bundle()
        let hintless = SigstoreBundle(publicKeyHint: nil, payload: bundle.payload, signature: bundle.signature, keyID: nil)
        try Data(hintless.encoded()).write(to: model.signature)
        #expect(throws: PackagingError.invalidSignature(path: model.signature.path)) { try model.verify(with: other) }
        let report = try model.verify()
        #expect(report.isVerified && !report.hintChecked)
    }

    @Test("a directory signed by model_signing verifies, and its tampered twins fail")
    func modelSigningDirectory() throws {
        let temporary = try TemporaryDirectory()
        let root = try ReferenceVectors.modelSigningDirectory(in: temporary)
        let key = try VerificationKey(pem: ReferenceVectors.p256Public, path: "pub.pem")
        let report = try BundleVerifier.verify(directory: root, key: key)
        #expect(report.isVerified && report.hintChecked)
        #expect(report.signed.resources.count == 3)

        try flipByte(of: root.appendingPathComponent("a.txt"), at: 0)
        let changed = try BundleVerifier.verify(directory: root, key: key).difference.changed
        #expect(changed.map(\.name) == ["a.txt"])
        #expect(changed.first?.expectedHex == ReferenceVectors.alphaDigest)
        #expect(throws: PackagingError.self) {
            try BundleVerifier.verify(directory: root, key: SigningKey.generate().verificationKey)
        }
    }

    @Test("verify never writes to the directory, whether it passes, finds differences or fails")
    func verifyNeverWrites() throws {
        let model = try SignedModel()
        var before = try snapshot(of: model.root)
        _ = try model.verify()
        #expect(try snapshot(of: model.root) == before)

        try model.temporary.file("model/extra.bin", [1, 2, 3])
        try flipByte(of: model.root.appendingPathComponent("model.safetensors"), at: 7)
        before = try snapshot(of: model.root)
        #expect(try model.verify().isVerified == false)
        #expect(try snapshot(of: model.root) == before)

        #expect(throws: PackagingError.self) { try model.verify(with: SigningKey.generate().verificationKey) }
        try Data("{".utf8).write(to: model.signature)
        before = try snapshot(of: model.root)
        #expect(throws: PackagingError.self) { try model.verify() }
        #expect(try snapshot(of: model.root) == before)
    }
}
