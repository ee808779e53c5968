// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore

#if canImport(Glibc)
    import Glibc
#endif

/// What `quail sign` did.
public struct SigningReport: Sendable {
    /// The signed directory.
    public let directory: String
    /// The signature file written.
    public let signaturePath: String
    /// The signed manifest (files in listed order, ignore paths).
    public let manifest: BundleManifest
    /// Bytes hashed.
    public let byteCount: Int
    /// The key's curve.
    public let curve: ECDSACurve
    /// The public-key hint written into the bundle.
    public let keyHint: String
}

/// Signs a directory into a model_signing-compatible signature file.
public enum BundleSigner {
    /// The default signature file name, inside the directory.
    public static let defaultSignatureName = "model.sig"

    /// Hashes every regular file under `directory`, signs the manifest with `key` and writes the bundle to
    /// `signature` (default `DIR/model.sig`) atomically.
    ///
    /// The signature file itself (when inside the directory) and the top-level git paths are left out and
    /// recorded in `ignore_paths`. Symbolic links and special files are errors. The output is deterministic
    /// except for the ECDSA nonce.
    ///
    /// - Parameters:
    ///   - overwrite: replace an existing signature file.
    ///   - workers: files hashed at once (default: one per core).
    ///   - subjectName: the in-toto subject name (default: the directory's name); set it when signing a directory
    ///     that is renamed afterwards.
    /// - Throws: ``PackagingError``.
    public static func sign(
        directory: URL, key: SigningKey, signature: URL? = nil, overwrite: Bool = false, workers: Int? = nil,
        subjectName: String? = nil, progress: HashingProgress? = nil
    ) throws(PackagingError) -> SigningReport {
        let root = try ContainedDirectory(url: directory)
        let signatureURL = signature ?? directory.appendingPathComponent(defaultSignatureName)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: signatureURL.path, isDirectory: &isDirectory) {
            guard overwrite, !isDirectory.boolValue else { throw .outputExists(path: signatureURL.path) }
        }
        var ignored = IgnoreList.gitPaths
        if let inside = SignatureLocation.relativeName(of: signatureURL, inside: directory) {
            ignored.insert(inside, at: 0)
        }
        let (manifest, byteCount) = try BundleManifest.hash(
            root, ignoring: IgnoreList(ignored), workers: workers, progress: progress)
        let statement = SignatureStatement(
            subjectName: subjectName ?? SignatureLocation.subjectName(of: directory), manifest: manifest)
        let payload = statement.encoded()
        let signatureBytes = try key.signature(
            for: DSSE.preAuthenticationEncoding(payloadType: DSSE.inTotoPayloadType, payload: payload))
        let publicKey = key.verificationKey
        let bundle = SigstoreBundle(publicKeyHint: publicKey.hint, payload: payload, signature: signatureBytes)
        try AtomicFileWriter.write(bundle.encoded(), to: signatureURL, overwrite: overwrite, mode: 0o644)
        return SigningReport(
            directory: directory.path, signaturePath: signatureURL.path, manifest: manifest, byteCount: byteCount,
            curve: key.curve, keyHint: publicKey.hint)
    }
}

/// Where a signature file sits relative to the directory it signs.
enum SignatureLocation {
    /// The POSIX name of `file` relative to `directory` when it lies inside it (after resolving links in both
    /// parents), or nil.
    static func relativeName(of file: URL, inside directory: URL) -> String? {
        guard let root = realPath(directory.path),
            let parent = realPath(file.deletingLastPathComponent().path)
        else { return nil }
        let full = Array((parent == "/" ? "" : parent).utf8) + Array("/\(file.lastPathComponent)".utf8)
        let prefix = Array((root == "/" ? "" : root).utf8) + [UInt8(ascii: "/")]
        guard full.count > prefix.count, full.starts(with: prefix) else { return nil }
        return String(decoding: full[prefix.count...], as: UTF8.self)
    }

    /// The in-toto subject name: the directory's last path component, resolved when it is `.` or `..`
    /// (as model_signing's file serializer does).
    static func subjectName(of directory: URL) -> String {
        let name = directory.lastPathComponent
        guard name.isEmpty || name == "." || name == ".." || name == "/" else { return name }
        return realPath(directory.path).map { URL(fileURLWithPath: $0).lastPathComponent } ?? name
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Small files (keys, signatures) written under a temporary name and renamed into place.
enum AtomicFileWriter {
    /// Writes `bytes` to `url` with permission `mode`; the file appears complete or not at all.
    static func write(_ bytes: [UInt8], to url: URL, overwrite: Bool, mode: mode_t) throws(PackagingError) {
        let output: AtomicOutput
        do {
            output = try AtomicOutput(destination: url, overwrite: overwrite)
        } catch {
            throw error.code == EEXIST ? .outputExists(path: url.path) : .fileAccess(error)
        }
        let path = output.temporaryURL.path
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .fileAccess(FileAccessError(path: path, operation: "create", code: errno)) }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                throw .fileAccess(FileAccessError(path: path, operation: "write", code: code))
            }
            written += count
        }
        // open(2) only narrows `mode` by the umask, so a private key is never readable by others.
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            throw .fileAccess(FileAccessError(path: path, operation: "sync", code: code))
        }
        close(fd)
        do {
            try output.commit()
        } catch {
            throw .fileAccess(error)
        }
    }
}
