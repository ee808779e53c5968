// SPDX-License-Identifier: Apache-2.0
import Foundation
import Packaging
import Testing

@Suite("Statement, envelope and bundle bytes")
struct FormatTests {
    static let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    static let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func sampleManifest() throws -> BundleManifest {
        BundleManifest(
            resources: [
                BundleManifest.Resource(name: "a.txt", digest: try #require(hexBytes(abc))),
                BundleManifest.Resource(name: "sub/\u{00FC} b", digest: try #require(hexBytes(empty))),
            ],
            ignorePaths: ["model.sig", ".git"])
    }

    @Test("the statement is compact JSON with a fixed key order and UTF-8 names")
    func canonicalStatement() throws {
        let statement = SignatureStatement(subjectName: "m", manifest: try Self.sampleManifest())
        let expected =
            #"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"#
            + #""6f1290896ee81a0349174d19f4473d267a10289c40480861d5c42affffbd79f9"}}],"#
            + #""predicateType":"https://model_signing/signature/v1.0","predicate":{"serialization":"#
            + #"{"method":"files","hash_type":"sha256","allow_symlinks":false,"ignore_paths":["model.sig",".git"]},"#
            + #""resources":[{"name":"a.txt","algorithm":"sha256","digest":"\#(Self.abc)"},"#
            + #"{"name":"sub/ü b","algorithm":"sha256","digest":"\#(Self.empty)"}]}}"#
        #expect(String(decoding: statement.encoded(), as: UTF8.self) == expected)
        #expect(try SignatureStatement(decoding: statement.encoded(), file: "s") == statement)
    }

    @Test("PAE matches the DSSE protocol example")
    func preAuthenticationEncoding() {
        // secure-systems-lab/dsse protocol.md, "Test vectors".
        let pae = DSSE.preAuthenticationEncoding(
            payloadType: "http://example.com/HelloWorld", payload: Array("hello world".utf8))
        #expect(String(decoding: pae, as: UTF8.self) == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
        let multibyte = DSSE.preAuthenticationEncoding(payloadType: "t", payload: Array("\u{00FC}".utf8))
        #expect(String(decoding: multibyte, as: UTF8.self) == "DSSEv1 1 t 2 \u{00FC}")
    }

    @Test("the bundle has exactly model_signing's fields, in its order, and parses back")
    func bundleBytes() throws {
        let bundle = SigstoreBundle(publicKeyHint: "ab", payload: Array("{}".utf8), signature: [0x30, 0x00])
        let text = String(decoding: bundle.encoded(), as: UTF8.self)
        #expect(
            text
                == #"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":"#
                + #"{"publicKey":{"hint":"ab"},"tlogEntries":[]},"dsseEnvelope":{"payload":"e30=","#
                + #""payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAA=","keyid":""}]}}"#)
        let parsed = try Array(text.utf8).withUnsafeBytes { try SigstoreBundle(decoding: $0, file: "f") }
        #expect(parsed == bundle)
    }

    @Test("model_signing's indented protobuf payload parses, with its resource list and ignore paths")
    func modelSigningPayload() throws {
        let bundle = try Array(ReferenceVectors.modelSigningBundle.utf8).withUnsafeBytes {
            try SigstoreBundle(decoding: $0, file: "model.sig")
        }
        #expect(bundle.publicKeyHint == ReferenceVectors.p256Hint)
        #expect(bundle.keyID == "")
        let statement = try SignatureStatement(decoding: bundle.payload, file: "model.sig")
        #expect(statement.subjectName == "model")
        #expect(statement.manifest.resources.map(\.name) == ["a.txt", "empty", "sub/\u{00FC} b.txt"])
        #expect(statement.manifest.resources.first?.hexDigest == ReferenceVectors.alphaDigest)
        #expect(Set(statement.manifest.ignorePaths) == ["model.sig", ".git", ".github", ".gitattributes", ".gitignore"])
    }
}
