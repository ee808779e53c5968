// SPDX-License-Identifier: Apache-2.0
import Crypto
import Foundation

/// The per-file SHA-256 manifest of a directory: what a model_signing `files` statement signs.
///
/// Names are POSIX paths relative to the directory and compare byte for byte (no Unicode normalisation), so a
/// file renamed to a canonically equivalent spelling still counts as renamed.
public struct BundleManifest: Equatable, Sendable {
    /// One file and its digest.
    public struct Resource: Equatable, Sendable {
        /// POSIX path relative to the directory.
        public let name: String
        /// SHA-256 of the whole file (32 bytes).
        public let digest: [UInt8]

        /// Creates a resource.
        public init(name: String, digest: [UInt8]) {
            self.name = name
            self.digest = digest
        }

        /// The digest as lowercase hex.
        public var hexDigest: String { Hex.encode(digest) }

        public static func == (lhs: Resource, rhs: Resource) -> Bool {
            lhs.name.utf8.elementsEqual(rhs.name.utf8) && lhs.digest == rhs.digest
        }
    }

    /// The files, in the order they are listed (and digested into ``rootDigest``).
    public let resources: [Resource]
    /// Relative paths the signer left out, recorded so that verifiers leave them out too.
    public let ignorePaths: [String]

    /// Creates a manifest from resources in the order given.
    public init(resources: [Resource], ignorePaths: [String]) {
        self.resources = resources
        self.ignorePaths = ignorePaths
    }

    /// SHA-256 over the concatenated raw digests in listed order: the in-toto subject digest
    /// (model_signing `signing.Payload`).
    public var rootDigest: [UInt8] {
        var hasher = SHA256()
        for resource in resources { resource.digest.withUnsafeBytes { hasher.update(bufferPointer: $0) } }
        return Array(hasher.finalize())
    }

    /// ``rootDigest`` as lowercase hex.
    public var rootDigestHex: String { Hex.encode(rootDigest) }

    /// Hashes every regular file under `directory` except the paths in `ignoring` (and everything beneath them),
    /// listing them sorted by the UTF-8 bytes of their names. Returns the manifest and the bytes hashed.
    ///
    /// - Throws: ``PackagingError`` for a missing or non-directory path, a symbolic link, a special file, a name
    ///   that is not UTF-8, or a failed read.
    public static func hash(
        directory: URL, ignoring: IgnoreList, workers: Int? = nil, progress: HashingProgress? = nil
    ) throws(PackagingError) -> (manifest: BundleManifest, byteCount: Int) {
        let root = try ContainedDirectory(url: directory)
        return try hash(root, ignoring: ignoring, workers: workers, progress: progress)
    }

    static func hash(
        _ root: ContainedDirectory, ignoring: IgnoreList, workers: Int?, progress: HashingProgress?
    ) throws(PackagingError) -> (manifest: BundleManifest, byteCount: Int) {
        let files = try root.regularFiles(ignoring: ignoring)
        let digests = try ParallelFileHasher.sha256(of: files, in: root, workers: workers, progress: progress)
        let resources = zip(files, digests).map { Resource(name: $0.name, digest: $1) }
        return (BundleManifest(resources: resources, ignorePaths: ignoring.paths), files.reduce(0) { $0 + $1.byteCount })
    }

    public static func == (lhs: BundleManifest, rhs: BundleManifest) -> Bool {
        lhs.resources == rhs.resources
            && lhs.ignorePaths.count == rhs.ignorePaths.count
            && zip(lhs.ignorePaths, rhs.ignorePaths).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }
}

/// How a directory differs from a manifest, file by file.
public struct ManifestDifference: Equatable, Sendable {
    /// A file present in both with different contents.
    public struct Change: Equatable, Sendable {
        /// The file's relative name.
        public let name: String
        /// The signed digest.
        public let expected: [UInt8]
        /// The digest of the file on disk.
        public let actual: [UInt8]

        /// ``expected`` as lowercase hex.
        public var expectedHex: String { Hex.encode(expected) }
        /// ``actual`` as lowercase hex.
        public var actualHex: String { Hex.encode(actual) }
    }

    /// Files on disk that the manifest does not list (with their digests).
    public let extra: [BundleManifest.Resource]
    /// Files the manifest lists that are not on disk (with their signed digests).
    public let missing: [BundleManifest.Resource]
    /// Files whose contents differ.
    public let changed: [Change]

    /// Whether the directory matches the manifest exactly.
    public var isEmpty: Bool { extra.isEmpty && missing.isEmpty && changed.isEmpty }

    /// Compares the manifest `actual` (hashed from disk) with `expected` (signed) as sets of name → digest; the
    /// order of resources does not matter. Each list is sorted by name bytes.
    public init(expected: BundleManifest, actual: BundleManifest) {
        let signed = Dictionary(expected.resources.map { (Array($0.name.utf8), $0) }, uniquingKeysWith: { a, _ in a })
        let onDisk = Dictionary(actual.resources.map { (Array($0.name.utf8), $0) }, uniquingKeysWith: { a, _ in a })
        let byName: (BundleManifest.Resource, BundleManifest.Resource) -> Bool = {
            $0.name.utf8.lexicographicallyPrecedes($1.name.utf8)
        }
        extra = actual.resources.filter { signed[Array($0.name.utf8)] == nil }.sorted(by: byName)
        missing = expected.resources.filter { onDisk[Array($0.name.utf8)] == nil }.sorted(by: byName)
        changed = expected.resources.sorted(by: byName).compactMap { resource in
            guard let local = onDisk[Array(resource.name.utf8)], local.digest != resource.digest else { return nil }
            return Change(name: resource.name, expected: resource.digest, actual: local.digest)
        }
    }
}
