// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore

/// The signature file: a Sigstore bundle v0.3 in JSON holding a DSSE envelope and a public-key hint, exactly the
/// shape `model_signing sign key` writes (`_signing/sign_ec_key.py`, `Signer.sign`) and its verifier reads
/// through the pydantic `sigstore_models.bundle.v1.Bundle` (no extra fields allowed).
public struct SigstoreBundle: Equatable, Sendable {
    /// The only bundle media type model_signing verifies.
    public static let mediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
    /// Signature files larger than this are rejected before parsing.
    public static let maxByteCount = 1 << 30

    /// Lowercase hex SHA-256 of the signer's public-key PEM, or nil when the bundle has none.
    public let publicKeyHint: String?
    /// The DSSE payload: the statement JSON bytes exactly as signed.
    public let payload: [UInt8]
    /// The DER ECDSA signature over the DSSE pre-authentication encoding of ``payload``.
    public let signature: [UInt8]
    /// The envelope signature's `keyid` (model_signing writes an empty string).
    public let keyID: String?

    /// Creates a bundle.
    public init(publicKeyHint: String?, payload: [UInt8], signature: [UInt8], keyID: String? = "") {
        self.publicKeyHint = publicKeyHint
        self.payload = payload
        self.signature = signature
        self.keyID = keyID
    }

    /// The compact JSON file, with model_signing's key order and no trailing newline.
    public func encoded() -> [UInt8] {
        var json = CompactJSONWriter()
        json.raw("{")
        json.member("mediaType", Self.mediaType)
        json.raw(",")
        json.key("verificationMaterial")
        json.raw("{")
        json.key("publicKey")
        json.raw("{")
        if let publicKeyHint { json.member("hint", publicKeyHint) }
        json.raw("},")
        json.key("tlogEntries")
        json.raw("[]},")
        json.key("dsseEnvelope")
        json.raw("{")
        json.member("payload", Data(payload).base64EncodedString())
        json.raw(",")
        json.member("payloadType", DSSE.inTotoPayloadType)
        json.raw(",")
        json.key("signatures")
        json.raw("[{")
        json.member("sig", Data(signature).base64EncodedString())
        if let keyID {
            json.raw(",")
            json.member("keyid", keyID)
        }
        json.raw("}]}}")
        return json.bytes
    }

    /// Parses a signature file strictly.
    ///
    /// Accepted: `mediaType` exactly ``mediaType``; `verificationMaterial` with `publicKey` (optional `hint`;
    /// `rawBytes` and `keyDetails` ignored as model_signing strips them) and an absent or empty `tlogEntries`;
    /// `dsseEnvelope` with a base64 `payload`, `payloadType` in-toto JSON and exactly one signature (`sig`,
    /// optional `keyid`). Unknown fields anywhere are errors. Certificates, transparency-log entries, timestamps
    /// and message signatures are reported as unsupported: they cannot be checked offline with a key.
    ///
    /// - Parameter file: the signature file, named in errors.
    public init(decoding bytes: UnsafeRawBufferPointer, file: String) throws(PackagingError) {
        guard bytes.count <= Self.maxByteCount else {
            throw .malformedSignature(path: file, reason: "\(bytes.count) bytes is larger than the \(Self.maxByteCount)-byte cap")
        }
        let root: JSONNode
        do {
            root = try StrictJSON.parse(bytes)
        } catch {
            throw .malformedSignature(path: file, reason: "not valid JSON: \(error)")
        }
        let bundle = try SignatureJSONObject(
            root, at: "", file: file,
            allowed: ["mediaType", "verificationMaterial", "dsseEnvelope", "messageSignature"])
        let mediaType = try bundle.string("mediaType")
        guard mediaType == Self.mediaType else {
            throw .malformedSignature(path: file, reason: "mediaType `\(mediaType)`, expected `\(Self.mediaType)`")
        }
        if bundle.has("messageSignature") {
            throw .unsupportedSignature(path: file, reason: "a `messageSignature` bundle (expected a DSSE envelope)")
        }

        let material = try bundle.object(
            "verificationMaterial",
            allowed: ["publicKey", "x509CertificateChain", "certificate", "tlogEntries", "timestampVerificationData"])
        if material.has("certificate") || material.has("x509CertificateChain") {
            throw .unsupportedSignature(path: file, reason: "a certificate bundle (verify needs a public-key bundle)")
        }
        if material.has("timestampVerificationData") {
            throw .unsupportedSignature(path: file, reason: "signed timestamps cannot be checked offline")
        }
        if material.has("tlogEntries"), try !material.array("tlogEntries").isEmpty {
            throw .unsupportedSignature(path: file, reason: "transparency-log entries cannot be checked offline")
        }
        let publicKey = try material.object("publicKey", allowed: ["hint", "rawBytes", "keyDetails"])
        publicKeyHint = try publicKey.optionalString("hint").flatMap { $0.isEmpty ? nil : $0 }

        let envelope = try bundle.object("dsseEnvelope", allowed: ["payload", "payloadType", "signatures"])
        payload = try envelope.base64("payload")
        let payloadType = try envelope.string("payloadType")
        guard payloadType == DSSE.inTotoPayloadType else {
            throw .malformedSignature(path: file, reason: "payloadType `\(payloadType)`, expected `\(DSSE.inTotoPayloadType)`")
        }
        let signatures = try envelope.array("signatures")
        guard signatures.count == 1 else {
            throw .malformedSignature(path: file, reason: "the envelope has \(signatures.count) signatures, expected exactly one")
        }
        let entry = try SignatureJSONObject(
            signatures[0], at: "dsseEnvelope.signatures[0]", file: file, allowed: ["sig", "keyid"])
        signature = try entry.base64("sig")
        keyID = try entry.optionalString("keyid")
    }
}
