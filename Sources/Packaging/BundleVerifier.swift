// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore

/// What `quail verify` found.
public struct VerificationReport: Sendable {
    /// The verified directory.
    public let directory: String
    /// The signature file read.
    public let signaturePath: String
    /// The subject name in the statement (informative; not checked).
    public let subjectName: String
    /// The signed manifest.
    public let signed: BundleManifest
    /// Every path left out of the comparison: the signature's `ignore_paths`, the signature file, git paths.
    public let ignoredPaths: [String]
    /// Bytes hashed on disk.
    public let byteCount: Int
    /// The key's curve.
    public let curve: ECDSACurve
    /// Whether the bundle carried a key hint (it matched, or verification would have thrown).
    public let hintChecked: Bool
    /// How the directory differs from the signed manifest; empty when verified.
    public let difference: ManifestDifference

    /// Whether the signature is valid and the directory matches it exactly.
    public var isVerified: Bool { difference.isEmpty }
}

/// Verifies a directory against a model_signing-compatible signature file, offline, without writing anything.
public enum BundleVerifier {
    /// Checks, in this order: the bundle parses strictly; its key hint (when present) names `key`; the ECDSA
    /// signature over the DSSE pre-authentication encoding verifies with `key`; the statement parses strictly and
    /// its subject digest matches its resources; the directory, re-hashed without the signature's `ignore_paths`,
    /// the signature file and the top-level git paths, has exactly the signed files with the signed digests.
    ///
    /// - Returns: a report whose ``VerificationReport/difference`` itemises extra, missing and changed files
    ///   (empty when verified).
    /// - Throws: ``PackagingError`` when the directory is unsigned or unusable, the signature or key is
    ///   malformed or unsupported, a path is unsafe, or the signature does not verify with `key`.
    public static func verify(
        directory: URL, key: VerificationKey, signature: URL? = nil, workers: Int? = nil,
        progress: HashingProgress? = nil
    ) throws(PackagingError) -> VerificationReport {
        let root = try ContainedDirectory(url: directory)
        let signatureURL = signature ?? directory.appendingPathComponent(BundleSigner.defaultSignatureName)
        let file = signatureURL.path
        let mapped: MappedFile
        do {
            mapped = try MappedFile(url: signatureURL)
        } catch {
            if error.code == ENOENT { throw .signatureNotFound(path: file) }
            throw .fileAccess(error)
        }
        let bundle = try SigstoreBundle(decoding: mapped.bytes, file: file)
        if let hint = bundle.publicKeyHint, hint != key.hint {
            throw .keyMismatch(path: file, hint: hint, keyHint: key.hint)
        }
        let signed = DSSE.preAuthenticationEncoding(payloadType: DSSE.inTotoPayloadType, payload: bundle.payload)
        guard try key.isValidSignature(bundle.signature, for: signed, signaturePath: file) else {
            throw .invalidSignature(path: file)
        }
        let statement = try SignatureStatement(decoding: bundle.payload, file: file)
        var ignored = statement.manifest.ignorePaths
        if let inside = SignatureLocation.relativeName(of: signatureURL, inside: directory) { ignored.append(inside) }
        ignored += IgnoreList.gitPaths
        let ignoreList = IgnoreList(ignored)
        let (actual, byteCount) = try BundleManifest.hash(root, ignoring: ignoreList, workers: workers, progress: progress)
        return VerificationReport(
            directory: directory.path, signaturePath: file, subjectName: statement.subjectName,
            signed: statement.manifest, ignoredPaths: ignoreList.paths, byteCount: byteCount, curve: key.curve,
            hintChecked: bundle.publicKeyHint != nil,
            difference: ManifestDifference(expected: statement.manifest, actual: actual))
    }
}
