// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// Everything that can go wrong generating keys, signing a directory, or verifying one.
///
/// Every case names the file or directory it is about. ``kind`` sorts the cases into the three outcomes the CLI
/// reports with distinct exit codes, and ``code`` is a stable machine-readable reason.
public enum PackagingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call on a file failed (open, read, write, rename, …).
    case fileAccess(FileAccessError)
    /// The path to sign or verify is not a directory.
    case notADirectory(path: String)
    /// There is no signature file to verify against: the directory is unsigned.
    case signatureNotFound(path: String)
    /// The output (key or signature file) exists and replacing it was not requested.
    case outputExists(path: String)
    /// A symbolic link inside the directory; links are never followed.
    case symbolicLink(path: String, target: String, escapesDirectory: Bool)
    /// A FIFO, socket or device inside the directory.
    case specialFile(path: String)
    /// A file name that is not valid UTF-8, so it cannot be named in a JSON manifest.
    case fileNameNotUTF8(path: String)
    /// The key file is not a PEM key Quail can parse.
    case malformedKey(path: String, reason: String)
    /// The key is well formed but of a type Quail does not sign or verify with.
    case unsupportedKey(path: String, found: String)
    /// A private key was given where a public key is needed, or the reverse.
    case wrongKeyKind(path: String, expected: String, found: String)
    /// The signature file breaks the bundle, envelope or statement format.
    case malformedSignature(path: String, reason: String)
    /// The signature file is well formed but uses a feature Quail does not verify (shards, other hashes, …).
    case unsupportedSignature(path: String, reason: String)
    /// A file name or ignore path in the signature that could reach outside the directory.
    case unsafePath(path: String, name: String, reason: String)
    /// The bundle's public-key hint names another key than the one given.
    case keyMismatch(path: String, hint: String, keyHint: String)
    /// The ECDSA signature does not verify over the statement: another key signed it, or the statement changed.
    case invalidSignature(path: String)
    /// The statement's subject digest disagrees with the digest of its own resource list.
    case rootDigestMismatch(path: String, expected: String, actual: String)

    /// The outcome class of an error.
    public enum Kind: String, Sendable {
        /// The signature does not vouch for these files with this key (tamper, wrong key).
        case verificationFailed
        /// The signature file or the key cannot be used (malformed, unsupported).
        case unusableSignatureOrKey
        /// The directory or an input/output path is unusable (unsigned, links, unreadable, exists).
        case unusableInput
    }

    /// The outcome class of this error.
    public var kind: Kind {
        switch self {
        case .keyMismatch, .invalidSignature, .rootDigestMismatch: .verificationFailed
        case .malformedKey, .unsupportedKey, .wrongKeyKind, .malformedSignature, .unsupportedSignature, .unsafePath:
            .unusableSignatureOrKey
        case .fileAccess, .notADirectory, .signatureNotFound, .outputExists, .symbolicLink, .specialFile,
            .fileNameNotUTF8:
            .unusableInput
        }
    }

    /// A stable machine-readable reason, used in JSON reports.
    public var code: String {
        switch self {
        case .fileAccess: "io-error"
        case .notADirectory: "not-a-directory"
        case .signatureNotFound: "unsigned"
        case .outputExists: "output-exists"
        case .symbolicLink: "symlink"
        case .specialFile: "special-file"
        case .fileNameNotUTF8: "file-name-not-utf8"
        case .malformedKey: "malformed-key"
        case .unsupportedKey: "unsupported-key"
        case .wrongKeyKind: "wrong-key-kind"
        case .malformedSignature: "malformed-signature"
        case .unsupportedSignature: "unsupported-signature"
        case .unsafePath: "unsafe-path"
        case .keyMismatch: "key-mismatch"
        case .invalidSignature: "invalid-signature"
        case .rootDigestMismatch: "root-digest-mismatch"
        }
    }

    /// The key types Quail accepts, for error messages.
    public static let supportedKeys =
        "ECDSA P-256, P-384 or P-521 in PEM (private: PKCS#8 or SEC1, unencrypted; public: SubjectPublicKeyInfo)"

    public var description: String {
        switch self {
        case .fileAccess(let error): error.description
        case .notADirectory(let path): "\(path): not a directory"
        case .signatureNotFound(let path):
            "\(path): no signature file (the directory is unsigned; sign it with `quail sign` or pass --signature)"
        case .outputExists(let path): "\(path): already exists (use --force to replace it)"
        case .symbolicLink(let path, let target, let escapes):
            escapes
                ? "\(path): symbolic link to `\(target)` escapes the directory; links are never followed"
                : "\(path): symbolic link to `\(target)`; links are not signed or followed (replace it by the file)"
        case .specialFile(let path): "\(path): not a regular file or directory (FIFO, socket or device)"
        case .fileNameNotUTF8(let path): "\(path): file name is not valid UTF-8"
        case .malformedKey(let path, let reason): "\(path): malformed key: \(reason)"
        case .unsupportedKey(let path, let found):
            "\(path): unsupported key: \(found) (supported: \(PackagingError.supportedKeys))"
        case .wrongKeyKind(let path, let expected, let found):
            "\(path): expected a \(expected) key, found a \(found) key"
        case .malformedSignature(let path, let reason): "\(path): malformed signature: \(reason)"
        case .unsupportedSignature(let path, let reason): "\(path): unsupported signature: \(reason)"
        case .unsafePath(let path, let name, let reason):
            "\(path): unsafe path `\(name)` in the signature: \(reason)"
        case .keyMismatch(let path, let hint, let keyHint):
            "\(path): signed by another key (bundle key hint \(hint), given key \(keyHint))"
        case .invalidSignature(let path):
            "\(path): the ECDSA signature does not verify: signed by another key, or the signed statement was modified"
        case .rootDigestMismatch(let path, let expected, let actual):
            "\(path): statement subject digest \(expected) does not match its resources (\(actual))"
        }
    }
}
