// SPDX-License-Identifier: Apache-2.0

/// Dead Simple Signing Envelope (secure-systems-lab/dsse `protocol.md`, v1.0.0).
public enum DSSE {
    /// The payload type of in-toto statements.
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    /// The pre-authentication encoding that is actually signed:
    /// `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`, lengths as ASCII decimal byte counts
    /// (model_signing `sign_sigstore_pb.pae`).
    public static func preAuthenticationEncoding(payloadType: String, payload: [UInt8]) -> [UInt8] {
        var bytes = Array("DSSEv1 \(payloadType.utf8.count) \(payloadType) \(payload.count) ".utf8)
        bytes.append(contentsOf: payload)
        return bytes
    }
}
