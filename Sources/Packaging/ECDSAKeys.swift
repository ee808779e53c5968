// SPDX-License-Identifier: Apache-2.0
import Crypto
import Foundation
import TensorCore

/// The NIST curves Quail signs and verifies with, the same set as model_signing (`sign_ec_key.py`,
/// `_SUPPORTED_CURVES`). The message hash follows the curve: SHA-256, SHA-384, SHA-512 (`get_ec_key_hash`).
public enum ECDSACurve: String, Sendable, CaseIterable {
    case p256 = "P-256"
    case p384 = "P-384"
    case p521 = "P-521"

    init?(oid: [UInt8]) {
        switch oid {
        case KeyAlgorithmIdentifier.secp256r1: self = .p256
        case KeyAlgorithmIdentifier.secp384r1: self = .p384
        case KeyAlgorithmIdentifier.secp521r1: self = .p521
        default: return nil
        }
    }
}

/// An ECDSA private key that signs bundles.
///
/// `@unchecked Sendable`: swift-crypto's key types do not declare `Sendable` on Linux, but they are immutable
/// after construction and only read, so sharing them across threads is safe.
public struct SigningKey: @unchecked Sendable {
    private enum Storage {
        case p256(P256.Signing.PrivateKey)
        case p384(P384.Signing.PrivateKey)
        case p521(P521.Signing.PrivateKey)
    }

    private let storage: Storage
    /// Where the key was read from (for messages), or `(generated)`.
    public let path: String

    private init(storage: Storage, path: String) {
        self.storage = storage
        self.path = path
    }

    /// A fresh random key on `curve`.
    public static func generate(curve: ECDSACurve = .p256) -> SigningKey {
        switch curve {
        case .p256: SigningKey(storage: .p256(P256.Signing.PrivateKey()), path: "(generated)")
        case .p384: SigningKey(storage: .p384(P384.Signing.PrivateKey()), path: "(generated)")
        case .p521: SigningKey(storage: .p521(P521.Signing.PrivateKey()), path: "(generated)")
        }
    }

    /// Reads an unencrypted PEM private key (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`) from `url`.
    public init(contentsOf url: URL) throws(PackagingError) {
        try self.init(pem: KeyFile.read(url), path: url.path)
    }

    /// Parses an unencrypted PEM private key; `path` names it in errors.
    public init(pem: String, path: String) throws(PackagingError) {
        let (curve, document) = try KeyFile.keyDocument(in: pem, path: path, wantPrivate: true)
        do {
            switch curve {
            case .p256: storage = .p256(try P256.Signing.PrivateKey(derRepresentation: document.der))
            case .p384: storage = .p384(try P384.Signing.PrivateKey(derRepresentation: document.der))
            case .p521: storage = .p521(try P521.Signing.PrivateKey(derRepresentation: document.der))
            }
        } catch {
            throw .malformedKey(path: path, reason: "invalid \(curve.rawValue) private key (\(error))")
        }
        self.path = path
    }

    /// The key's curve.
    public var curve: ECDSACurve {
        switch storage {
        case .p256: .p256
        case .p384: .p384
        case .p521: .p521
        }
    }

    /// The matching public key.
    public var verificationKey: VerificationKey {
        switch storage {
        case .p256(let key): VerificationKey(storage: .p256(key.publicKey), path: path)
        case .p384(let key): VerificationKey(storage: .p384(key.publicKey), path: path)
        case .p521(let key): VerificationKey(storage: .p521(key.publicKey), path: path)
        }
    }

    /// The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), which OpenSSL, `cryptography` and model_signing load.
    public var pkcs8PEM: String {
        let der: Data
        switch storage {
        case .p256(let key): der = key.derRepresentation
        case .p384(let key): der = key.derRepresentation
        case .p521(let key): der = key.derRepresentation
        }
        return PEMDocument.encode(label: "PRIVATE KEY", der: Array(der))
    }

    /// A DER-encoded ECDSA signature over `message` (hashed with the curve's SHA-2), as `cryptography`'s
    /// `sign(data, ECDSA(hash))` produces. The nonce is random, so two signatures of one message differ.
    public func signature(for message: [UInt8]) throws(PackagingError) -> [UInt8] {
        do {
            switch storage {
            case .p256(let key): return Array(try key.signature(for: message).derRepresentation)
            case .p384(let key): return Array(try key.signature(for: message).derRepresentation)
            case .p521(let key): return Array(try key.signature(for: message).derRepresentation)
            }
        } catch {
            throw .malformedKey(path: path, reason: "signing failed (\(error))")
        }
    }
}

/// An ECDSA public key that verifies bundles (`@unchecked Sendable` for the same reason as ``SigningKey``).
public struct VerificationKey: @unchecked Sendable {
    fileprivate enum Storage {
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case p521(P521.Signing.PublicKey)
    }

    private let storage: Storage
    /// Where the key was read from (for messages).
    public let path: String

    fileprivate init(storage: Storage, path: String) {
        self.storage = storage
        self.path = path
    }

    /// Reads a PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`) from `url`.
    public init(contentsOf url: URL) throws(PackagingError) {
        try self.init(pem: KeyFile.read(url), path: url.path)
    }

    /// Parses a PEM SubjectPublicKeyInfo; `path` names it in errors.
    public init(pem: String, path: String) throws(PackagingError) {
        let (curve, document) = try KeyFile.keyDocument(in: pem, path: path, wantPrivate: false)
        do {
            switch curve {
            case .p256: storage = .p256(try P256.Signing.PublicKey(derRepresentation: document.der))
            case .p384: storage = .p384(try P384.Signing.PublicKey(derRepresentation: document.der))
            case .p521: storage = .p521(try P521.Signing.PublicKey(derRepresentation: document.der))
            }
        } catch {
            throw .malformedKey(path: path, reason: "invalid \(curve.rawValue) public key (\(error))")
        }
        self.path = path
    }

    /// The key's curve.
    public var curve: ECDSACurve {
        switch storage {
        case .p256: .p256
        case .p384: .p384
        case .p521: .p521
        }
    }

    /// The SubjectPublicKeyInfo PEM text exactly as OpenSSL and `cryptography` write it (uncompressed point,
    /// 64-character lines, final newline), whatever layout the key file had.
    public var spkiPEM: String {
        let der: Data
        switch storage {
        case .p256(let key): der = key.derRepresentation
        case .p384(let key): der = key.derRepresentation
        case .p521(let key): der = key.derRepresentation
        }
        return PEMDocument.encode(label: "PUBLIC KEY", der: Array(der))
    }

    /// The key hint of a Sigstore bundle: lowercase hex SHA-256 of ``spkiPEM`` (model_signing
    /// `sign_ec_key.Signer._get_verification_material`).
    public var hint: String { Hex.encode(SHA256.hash(data: Array(spkiPEM.utf8))) }

    /// Whether `signature` (DER ECDSA) is valid for `message`; throws if it is not DER at all.
    func isValidSignature(_ signature: [UInt8], for message: [UInt8], signaturePath: String) throws(PackagingError)
        -> Bool
    {
        do {
            switch storage {
            case .p256(let key):
                return key.isValidSignature(try P256.Signing.ECDSASignature(derRepresentation: signature), for: message)
            case .p384(let key):
                return key.isValidSignature(try P384.Signing.ECDSASignature(derRepresentation: signature), for: message)
            case .p521(let key):
                return key.isValidSignature(try P521.Signing.ECDSASignature(derRepresentation: signature), for: message)
            }
        } catch {
            throw .malformedSignature(path: signaturePath, reason: "the signature is not a DER-encoded ECDSA signature")
        }
    }
}

/// Reading PEM key files and picking the key block out of them.
enum KeyFile {
    /// Key files larger than this are rejected before reading.
    static let maxByteCount = 1 << 20

    static func read(_ url: URL) throws(PackagingError) -> String {
        let mapped: MappedFile
        do {
            mapped = try MappedFile(url: url)
        } catch {
            throw .fileAccess(error)
        }
        guard mapped.bytes.count <= maxByteCount else {
            throw .malformedKey(path: url.path, reason: "\(mapped.bytes.count) bytes is too large for a key file")
        }
        guard UTF8Validation.firstInvalidByte(in: mapped.bytes) == nil else {
            throw .malformedKey(path: url.path, reason: "not PEM text (binary or not UTF-8)")
        }
        return String(decoding: mapped.bytes, as: UTF8.self)
    }

    /// The curve and the key block of `text`, checking that it holds a supported key of the wanted kind.
    static func keyDocument(in text: String, path: String, wantPrivate: Bool) throws(PackagingError)
        -> (ECDSACurve, PEMDocument)
    {
        let wanted = wantPrivate ? "private" : "public"
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseAll(text)
        } catch {
            throw .malformedKey(path: path, reason: error.description)
        }
        guard let document = documents.first(where: { $0.label != "EC PARAMETERS" }) else {
            if text.hasPrefix("ssh-") || text.hasPrefix("ecdsa-sha2-") {
                throw .unsupportedKey(path: path, found: "an OpenSSH public key")
            }
            throw .malformedKey(path: path, reason: "no PEM block (expected -----BEGIN \(wanted.uppercased()) KEY-----)")
        }
        let algorithm: KeyAlgorithmIdentifier?
        switch document.label {
        case "PRIVATE KEY", "EC PRIVATE KEY":
            guard wantPrivate else { throw .wrongKeyKind(path: path, expected: "public", found: "private") }
            guard !document.hasHeaders else { throw .unsupportedKey(path: path, found: "an encrypted private key") }
            algorithm = KeyAlgorithmIdentifier.ofPrivateKey(document.der, sec1: document.label == "EC PRIVATE KEY")
        case "PUBLIC KEY":
            guard !wantPrivate else { throw .wrongKeyKind(path: path, expected: "private", found: "public") }
            algorithm = KeyAlgorithmIdentifier.ofPublicKey(document.der)
        case "ENCRYPTED PRIVATE KEY":
            throw .unsupportedKey(path: path, found: "an encrypted private key")
        case "RSA PRIVATE KEY", "RSA PUBLIC KEY":
            throw .unsupportedKey(path: path, found: "RSA")
        case "OPENSSH PRIVATE KEY":
            throw .unsupportedKey(path: path, found: "an OpenSSH private key")
        default:
            throw .unsupportedKey(path: path, found: "a PEM `\(document.label)` block")
        }
        guard let algorithm else {
            throw .malformedKey(path: path, reason: "the `\(document.label)` block is not valid DER")
        }
        guard case .ellipticCurve(let oid) = algorithm, let curve = ECDSACurve(oid: oid) else {
            throw .unsupportedKey(path: path, found: algorithm.name)
        }
        return (curve, document)
    }
}
