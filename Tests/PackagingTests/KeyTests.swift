// SPDX-License-Identifier: Apache-2.0
import Foundation
import Packaging
import Testing

@Suite("Keys")
struct KeyTests {
    @Test("a SEC1 key from cryptography loads; its public PEM and hint are byte-identical to cryptography's")
    func sec1Vector() throws {
        let key = try SigningKey(pem: ReferenceVectors.p256SEC1, path: "k.pem")
        #expect(key.curve == .p256)
        #expect(key.verificationKey.spkiPEM == ReferenceVectors.p256Public)
        #expect(key.verificationKey.hint == ReferenceVectors.p256Hint)
        let parameters = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
        #expect(try SigningKey(pem: parameters + ReferenceVectors.p256SEC1, path: "k.pem").verificationKey.hint
            == ReferenceVectors.p256Hint)
    }

    @Test("the hint comes from the canonical PEM, not the key file's layout")
    func hintIsCanonical() throws {
        let crlf = ReferenceVectors.p256Public.replacingOccurrences(of: "\n", with: "\r\n")
        let key = try VerificationKey(pem: crlf, path: "pub.pem")
        #expect(key.hint == ReferenceVectors.p256Hint)
        #expect(key.spkiPEM == ReferenceVectors.p256Public)
    }

    @Test("generated keys round-trip through PKCS#8 PEM with 64-character lines", arguments: ECDSACurve.allCases)
    func generatedKeys(curve: ECDSACurve) throws {
        let key = SigningKey.generate(curve: curve)
        let pem = key.pkcs8PEM
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n") && pem.hasSuffix("-----END PRIVATE KEY-----\n"))
        let lines = pem.split(separator: "\n")
        #expect(lines.dropFirst().dropLast().dropLast().allSatisfy { $0.count == 64 })
        let reloaded = try SigningKey(pem: pem, path: "k")
        #expect(reloaded.curve == curve)
        #expect(reloaded.verificationKey.hint == key.verificationKey.hint)
        #expect(try VerificationKey(pem: key.verificationKey.spkiPEM, path: "p").hint == key.verificationKey.hint)
    }

    @Test("unsupported key types are named, with the supported ones", arguments: [
        (ReferenceVectors.ed25519Public, "Ed25519"), (ReferenceVectors.secp256k1Public, "ECDSA secp256k1"),
        (ReferenceVectors.rsaPublic, "RSA"),
    ])
    func unsupportedPublicKeys(pem: String, name: String) {
        #expect(throws: PackagingError.unsupportedKey(path: "pub.pem", found: name)) {
            try VerificationKey(pem: pem, path: "pub.pem")
        }
        let message = PackagingError.unsupportedKey(path: "pub.pem", found: name).description
        #expect(message.contains("pub.pem") && message.contains(name) && message.contains("P-256"))
    }

    @Test("encrypted, RSA and OpenSSH private keys are unsupported; garbage is malformed")
    func unsupportedPrivateKeys() {
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"
        #expect(throws: PackagingError.unsupportedKey(path: "k", found: "an encrypted private key")) {
            try SigningKey(pem: encrypted, path: "k")
        }
        let legacy = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMAA=\n"
            + "-----END EC PRIVATE KEY-----\n"
        #expect(throws: PackagingError.unsupportedKey(path: "k", found: "an encrypted private key")) {
            try SigningKey(pem: legacy, path: "k")
        }
        let rsa = "-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n"
        #expect(throws: PackagingError.unsupportedKey(path: "k", found: "RSA")) { try SigningKey(pem: rsa, path: "k") }
        #expect(throws: PackagingError.unsupportedKey(path: "k", found: "an OpenSSH public key")) {
            try VerificationKey(pem: "ecdsa-sha2-nistp256 AAAA user@host\n", path: "k")
        }
        #expect(throws: PackagingError.self) { try SigningKey(pem: "hello", path: "k") }
        let truncated = "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"
        #expect(throws: PackagingError.malformedKey(path: "k", reason: "the `PRIVATE KEY` block is not valid DER")) {
            try SigningKey(pem: truncated, path: "k")
        }
    }

    @Test("a private key where a public one is needed, and the reverse, are named as such")
    func wrongKind() {
        #expect(throws: PackagingError.wrongKeyKind(path: "k", expected: "public", found: "private")) {
            try VerificationKey(pem: ReferenceVectors.p256SEC1, path: "k")
        }
        #expect(throws: PackagingError.wrongKeyKind(path: "k", expected: "private", found: "public")) {
            try SigningKey(pem: ReferenceVectors.p256Public, path: "k")
        }
    }

    @Test("keygen writes a 0600 private key and its public key, and replaces nothing without overwrite")
    func keygen() throws {
        let temporary = try TemporaryDirectory()
        let privateURL = temporary.url.appendingPathComponent("k.pem")
        let publicURL = temporary.url.appendingPathComponent("k.pub")
        let key = try KeyGenerator.writeKeyPair(privateKey: privateURL, publicKey: publicURL)
        let attributes = try FileManager.default.attributesOfItem(atPath: privateURL.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try SigningKey(contentsOf: privateURL).verificationKey.hint == key.verificationKey.hint)
        #expect(try String(contentsOf: publicURL, encoding: .utf8) == key.verificationKey.spkiPEM)
        let before = try Data(contentsOf: privateURL)
        #expect(throws: PackagingError.outputExists(path: privateURL.path)) {
            try KeyGenerator.writeKeyPair(privateKey: privateURL, publicKey: publicURL)
        }
        #expect(try Data(contentsOf: privateURL) == before)
        let replaced = try KeyGenerator.writeKeyPair(privateKey: privateURL, publicKey: publicURL, overwrite: true)
        #expect(replaced.verificationKey.hint != key.verificationKey.hint)
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary.url.path).sorted() == ["k.pem", "k.pub"])
    }
}
