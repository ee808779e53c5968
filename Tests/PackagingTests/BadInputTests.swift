// SPDX-License-Identifier: Apache-2.0
import Foundation
import Packaging
import Testing

/// Signs `payload` as-is with `key` and writes the bundle as `DIR/model.sig`, bypassing Quail's statement writer.
func writeSignedPayload(_ payload: String, key: SigningKey, to root: URL) throws {
    let bytes = Array(payload.utf8)
    let signature = try key.signature(
        for: DSSE.preAuthenticationEncoding(payloadType: DSSE.inTotoPayloadType, payload: bytes))
    let bundle = SigstoreBundle(publicKeyHint: key.verificationKey.hint, payload: bytes, signature: signature)
    try Data(bundle.encoded()).write(to: root.appendingPathComponent("model.sig"))
}

/// A statement payload over one resource, with pieces replaceable by the tests.
func statementPayload(
    name: String = "a.txt", digest: String = ReferenceVectors.alphaDigest, serialization: String? = nil,
    extraResourceField: String = "", topLevelExtra: String = "", subjectDigest: String? = nil, subjects: Int = 1,
    predicateType: String = "https://model_signing/signature/v1.0"
) throws -> String {
    let root =
        try subjectDigest
        ?? BundleManifest(
            resources: [BundleManifest.Resource(name: name, digest: try #require(hexBytes(digest)))], ignorePaths: []
        ).rootDigestHex
    let subject = #"{"name":"m","digest":{"sha256":"\#(root)"}}"#
    let serializationText = serialization ?? #"{"method":"files","hash_type":"sha256","allow_symlinks":false}"#
    let nameJSON = String(decoding: try JSONEncoder().encode(name), as: UTF8.self)
    return #"{"_type":"https://in-toto.io/Statement/v1","subject":["#
        + Array(repeating: subject, count: subjects).joined(separator: ",")
        + #"],"predicateType":"\#(predicateType)","predicate":{"serialization":\#(serializationText),"#
        + #""resources":[{"name":\#(nameJSON),"algorithm":"sha256","digest":"\#(digest)"\#(extraResourceField)}]}\#(topLevelExtra)}"#
}

@Suite("Bad input to sign and verify")
struct BadInputTests {
    static func alphaDirectory() throws -> (TemporaryDirectory, URL) {
        let temporary = try TemporaryDirectory()
        try temporary.file("m/a.txt", Array("alpha\n".utf8))
        return (temporary, temporary.url.appendingPathComponent("m"))
    }

    @Test("a hand-built statement in another layout verifies (the check is on content, not bytes)")
    func handBuiltStatement() throws {
        let (temporary, root) = try Self.alphaDirectory()
        let key = SigningKey.generate()
        try writeSignedPayload(try statementPayload(), key: key, to: root)
        // model.sig is not in this statement's ignore_paths but is still left out as the signature file.
        #expect(try BundleVerifier.verify(directory: root, key: key.verificationKey).isVerified)
        withExtendedLifetime(temporary) {}
    }

    @Test("broken bundles are malformed, naming the rule", arguments: [
        ("", "not valid JSON"), ("{", "not valid JSON"), ("[]", "must be an object"),
        (#"{"mediaType":"x","mediaType":"y"}"#, "duplicate key"),
        (#"{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.3"}"#, "mediaType"),
        (#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","extra":1}"#, "unknown field `extra`"),
        (#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{},"tlogEntries":[],"x":1}}"#,
         "unknown field `verificationMaterial.x`"),
        (#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"","color":"red"}}}"#,
         "unknown field `verificationMaterial.publicKey.color`"),
        (#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}}}"#,
         "missing field `dsseEnvelope`"),
        (#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/json","signatures":[]}}"#,
         "payloadType"),
        (#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[]}}"#,
         "0 signatures"),
        (#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{"payload":"%%%","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAA="}]}}"#,
         "standard base64"),
        (#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAA=","keyid":"","extra":true}]}}"#,
         "unknown field `dsseEnvelope.signatures[0].extra`"),
        (#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"aGVsbG8="}]}}"#,
         "not a DER-encoded ECDSA signature"),
    ])
    func malformedBundles(text: String, rule: String) throws {
        let (temporary, root) = try Self.alphaDirectory()
        try temporary.file("m/model.sig", Array(text.utf8))
        let key = SigningKey.generate().verificationKey
        do {
            _ = try BundleVerifier.verify(directory: root, key: key)
            Issue.record("accepted a broken bundle")
        } catch {
            #expect(error.kind == .unusableSignatureOrKey)
            #expect(error.description.contains(rule), "\(error.description)")
            #expect(error.description.contains(root.appendingPathComponent("model.sig").path))
        }
    }

    @Test("certificates, transparency-log entries and message signatures are unsupported offline", arguments: [
        #""verificationMaterial":{"certificate":{"rawBytes":"MAA="},"tlogEntries":[]}"#,
        #""verificationMaterial":{"publicKey":{},"tlogEntries":[{"logIndex":"1"}]}"#,
        #""verificationMaterial":{"publicKey":{}},"messageSignature":{}"#,
    ])
    func unsupportedBundles(material: String) throws {
        let (temporary, root) = try Self.alphaDirectory()
        let text = #"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",\#(material)}"#
        try temporary.file("m/model.sig", Array(text.utf8))
        #expect {
            try BundleVerifier.verify(directory: root, key: SigningKey.generate().verificationKey)
        } throws: { ($0 as? PackagingError)?.code == "unsupported-signature" }
    }

    @Test("signed statements that break the format are rejected after the signature check", arguments: [
        ("topLevelExtra", "malformed-signature"), ("twoSubjects", "malformed-signature"),
        ("extraResourceField", "malformed-signature"), ("shards", "unsupported-signature"),
        ("blake2b", "unsupported-signature"), ("symlinks", "unsupported-signature"),
        ("legacy", "unsupported-signature"), ("rootDigest", "root-digest-mismatch"),
        ("badDigest", "malformed-signature"),
    ])
    func badStatements(variant: String, code: String) throws {
        let (temporary, root) = try Self.alphaDirectory()
        defer { withExtendedLifetime(temporary) {} }
        let key = SigningKey.generate()
        let payload: String
        switch variant {
        case "topLevelExtra": payload = try statementPayload(topLevelExtra: #","extra":1"#)
        case "twoSubjects": payload = try statementPayload(subjects: 2)
        case "extraResourceField": payload = try statementPayload(extraResourceField: #","size":6"#)
        case "shards":
            payload = try statementPayload(serialization: #"{"method":"shards","hash_type":"sha256","allow_symlinks":false,"shard_size":1000}"#)
        case "blake2b": payload = try statementPayload(serialization: #"{"method":"files","hash_type":"blake2b","allow_symlinks":false}"#)
        case "symlinks": payload = try statementPayload(serialization: #"{"method":"files","hash_type":"sha256","allow_symlinks":true}"#)
        case "legacy": payload = try statementPayload(predicateType: "https://model_signing/Digests/v0.1")
        case "rootDigest": payload = try statementPayload(subjectDigest: String(repeating: "0", count: 64))
        default:
            payload = try statementPayload(
                digest: String(repeating: "g", count: 64), subjectDigest: String(repeating: "0", count: 64))
        }
        try writeSignedPayload(payload, key: key, to: root)
        #expect {
            try BundleVerifier.verify(directory: root, key: key.verificationKey)
        } throws: { ($0 as? PackagingError)?.code == code }
    }

    @Test("resource names and ignore paths that could leave the directory are rejected, never read", arguments: [
        "../secret", "/etc/passwd", "a/../../secret", "a//b", "./a.txt", "a.txt/",
    ])
    func unsafeNames(name: String) throws {
        let (temporary, root) = try Self.alphaDirectory()
        try temporary.file("secret", Array("alpha\n".utf8))
        let key = SigningKey.generate()
        try writeSignedPayload(try statementPayload(name: name), key: key, to: root)
        #expect {
            try BundleVerifier.verify(directory: root, key: key.verificationKey)
        } throws: { ($0 as? PackagingError)?.code == "unsafe-path" }
        let ignoring = #"{"method":"files","hash_type":"sha256","allow_symlinks":false,"ignore_paths":[\#(String(decoding: try JSONEncoder().encode(name), as: UTF8.self))]}"#
        try writeSignedPayload(try statementPayload(serialization: ignoring), key: key, to: root)
        #expect {
            try BundleVerifier.verify(directory: root, key: key.verificationKey)
        } throws: { ($0 as? PackagingError)?.code == "unsafe-path" }
    }

    @Test("a symbolic link escaping the directory is refused by sign and verify; an inner link too")
    func symlinks() throws {
        let model = try SignedModel()
        let outside = try model.temporary.file("outside.txt", Array("secret".utf8))
        let link = model.root.appendingPathComponent("sub dir/leak")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "../../outside.txt")
        #expect(throws: PackagingError.symbolicLink(path: link.path, target: "../../outside.txt", escapesDirectory: true)) {
            try model.verify()
        }
        #expect(throws: PackagingError.symbolicLink(path: link.path, target: "../../outside.txt", escapesDirectory: true)) {
            try BundleSigner.sign(directory: model.root, key: model.key, overwrite: true)
        }
        try FileManager.default.removeItem(at: link)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: outside.path)
        #expect(throws: PackagingError.symbolicLink(path: link.path, target: outside.path, escapesDirectory: true)) {
            try model.verify()
        }
        try FileManager.default.removeItem(at: link)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "../config.json")
        #expect(throws: PackagingError.symbolicLink(path: link.path, target: "../config.json", escapesDirectory: false)) {
            try model.verify()
        }
        let message = PackagingError.symbolicLink(path: link.path, target: "../../x", escapesDirectory: true).description
        #expect(message.contains("escapes the directory") && message.contains(link.path))
    }

    @Test("FIFOs are refused without being opened")
    func fifo() throws {
        let model = try SignedModel()
        let pipe = model.root.appendingPathComponent("pipe")
        #expect(mkfifo(pipe.path, 0o600) == 0)
        #expect(throws: PackagingError.specialFile(path: pipe.path)) { try model.verify() }
    }

    @Test("an unsigned directory, a missing directory and a file instead of a directory are named")
    func unsignedAndMissing() throws {
        let temporary = try TemporaryDirectory()
        let root = try makeModelDirectory(in: temporary)
        let key = SigningKey.generate().verificationKey
        #expect(throws: PackagingError.signatureNotFound(path: root.appendingPathComponent("model.sig").path)) {
            try BundleVerifier.verify(directory: root, key: key)
        }
        #expect(PackagingError.signatureNotFound(path: "d/model.sig").description.contains("unsigned"))
        let file = root.appendingPathComponent("config.json")
        #expect(throws: PackagingError.notADirectory(path: file.path)) { try BundleVerifier.verify(directory: file, key: key) }
        #expect(throws: PackagingError.self) {
            try BundleSigner.sign(directory: temporary.url.appendingPathComponent("absent"), key: SigningKey.generate())
        }
    }
}
