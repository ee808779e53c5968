// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// The in-toto Statement v1 that model_signing signs: one subject (the directory name and the root digest) and a
/// `https://model_signing/signature/v1.0` predicate holding the serialization settings and the resource list
/// (model_signing `_signing/signing.py`, `Payload` and `dsse_payload_to_manifest`).
public struct SignatureStatement: Equatable, Sendable {
    /// `_type` of in-toto Statement v1.
    public static let statementType = "https://in-toto.io/Statement/v1"
    /// `predicateType` of model_signing 1.x signatures.
    public static let predicateType = "https://model_signing/signature/v1.0"
    /// The pre-1.0 predicate type, recognised only to name it in an error.
    static let legacyPredicateType = "https://model_signing/Digests/v0.1"

    /// The subject name: informative only (verifiers do not check it); model_signing uses the directory name.
    public let subjectName: String
    /// The signed files and ignore paths.
    public let manifest: BundleManifest

    /// A statement over `manifest`; its subject digest is the manifest's root digest.
    public init(subjectName: String, manifest: BundleManifest) {
        self.subjectName = subjectName
        self.manifest = manifest
    }

    /// The compact JSON payload: fixed key order, no whitespace, non-ASCII written as UTF-8.
    public func encoded() -> [UInt8] {
        var json = CompactJSONWriter()
        json.raw("{")
        json.member("_type", Self.statementType)
        json.raw(",")
        json.key("subject")
        json.raw("[{")
        json.member("name", subjectName)
        json.raw(",")
        json.key("digest")
        json.raw("{")
        json.member("sha256", Hex.encode(manifest.rootDigest))
        json.raw("}}],")
        json.member("predicateType", Self.predicateType)
        json.raw(",")
        json.key("predicate")
        json.raw("{")
        json.key("serialization")
        json.raw("{")
        json.member("method", "files")
        json.raw(",")
        json.member("hash_type", "sha256")
        json.raw(",\"allow_symlinks\":false")
        if !manifest.ignorePaths.isEmpty {
            json.raw(",")
            json.key("ignore_paths")
            json.raw("[")
            for (index, path) in manifest.ignorePaths.enumerated() {
                if index > 0 { json.raw(",") }
                json.string(path)
            }
            json.raw("]")
        }
        json.raw("},")
        json.key("resources")
        json.raw("[")
        for (index, resource) in manifest.resources.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw("{")
            json.member("name", resource.name)
            json.raw(",")
            json.member("algorithm", "sha256")
            json.raw(",")
            json.member("digest", resource.hexDigest)
            json.raw("}")
        }
        json.raw("]}}")
        return json.bytes
    }

    /// Parses a statement payload strictly and checks its subject digest against its resources.
    ///
    /// Accepted: exactly the in-toto fields, one subject whose digest is only `sha256`, serialization
    /// `method: files`, `hash_type: sha256`, `allow_symlinks: false`, optional `ignore_paths`, and resources with
    /// exactly `name`, `algorithm: sha256` and a 64-digit hex `digest`, names being canonical relative paths that
    /// appear once. Other predicate members are ignored, as the v1.0 predicate asks of verifiers.
    ///
    /// - Parameter file: the signature file, named in errors.
    public init(decoding payload: [UInt8], file: String) throws(PackagingError) {
        let root: JSONNode
        do {
            root = try payload.withUnsafeBytes { (bytes) throws(StrictJSONError) in try StrictJSON.parse(bytes) }
        } catch {
            throw .malformedSignature(path: file, reason: "statement payload is not valid JSON: \(error)")
        }
        let statement = try SignatureJSONObject(
            root, at: "payload", file: file, allowed: ["_type", "subject", "predicateType", "predicate"])
        let type = try statement.string("_type")
        guard type == Self.statementType else {
            throw .malformedSignature(path: file, reason: "statement `_type` is `\(type)`, expected `\(Self.statementType)`")
        }
        let predicateType = try statement.string("predicateType")
        guard predicateType == Self.predicateType else {
            let reason =
                predicateType == Self.legacyPredicateType
                ? "pre-1.0 model_signing predicate `\(predicateType)`; re-sign with model_signing 1.x or quail"
                : "predicate type `\(predicateType)` (expected `\(Self.predicateType)`)"
            throw .unsupportedSignature(path: file, reason: reason)
        }
        let subjects = try statement.array("subject")
        guard subjects.count == 1 else {
            throw .malformedSignature(path: file, reason: "statement has \(subjects.count) subjects, expected exactly one")
        }
        let subject = try SignatureJSONObject(subjects[0], at: "payload.subject[0]", file: file, allowed: ["name", "digest"])
        let subjectName = try subject.string("name")
        let subjectDigest = try subject.object("digest", allowed: ["sha256"]).string("sha256")
        guard Hex.decode(subjectDigest)?.count == 32 else {
            throw subject.typeError("digest.sha256", "64 hex digits")
        }

        // Other predicate members are for future extensions; v1.0 verifiers ignore them.
        let predicate = try SignatureJSONObject(
            statement.required("predicate"), at: "payload.predicate", file: file, allowed: nil)
        let ignorePaths = try Self.decodeSerialization(
            predicate.object("serialization", allowed: Self.serializationKeys), file: file)
        let resources = try Self.decodeResources(predicate.array("resources"), file: file)
        let manifest = BundleManifest(resources: resources, ignorePaths: ignorePaths)
        let actual = Hex.encode(manifest.rootDigest)
        guard actual == subjectDigest.lowercased() else {
            throw .rootDigestMismatch(path: file, expected: subjectDigest.lowercased(), actual: actual)
        }
        self.init(subjectName: subjectName, manifest: manifest)
    }

    private static let serializationKeys: Set<String> = ["method", "hash_type", "allow_symlinks", "ignore_paths", "shard_size"]

    /// Checks the serialization settings and returns the ignore paths.
    private static func decodeSerialization(_ serialization: SignatureJSONObject, file: String) throws(PackagingError)
        -> [String]
    {
        let method = try serialization.string("method")
        guard method == "files" else {
            throw .unsupportedSignature(
                path: file, reason: "serialization method `\(method)` (only `files`, as `model_signing verify key` re-hashes)")
        }
        if serialization.has("shard_size") {
            throw .malformedSignature(path: file, reason: "`shard_size` given for the `files` method")
        }
        let hashType = try serialization.string("hash_type")
        guard hashType == "sha256" else {
            throw .unsupportedSignature(path: file, reason: "hash type `\(hashType)` (only `sha256`)")
        }
        guard try !serialization.bool("allow_symlinks") else {
            throw .unsupportedSignature(path: file, reason: "`allow_symlinks: true` (Quail never follows links)")
        }
        guard serialization.has("ignore_paths") else { return [] }
        var paths: [String] = []
        for (index, node) in try serialization.array("ignore_paths").enumerated() {
            guard case .string(let path) = node else {
                throw serialization.typeError("ignore_paths[\(index)]", "a string")
            }
            if let violation = RelativePathRule.violation(path) {
                throw .unsafePath(path: file, name: path, reason: violation)
            }
            paths.append(path)
        }
        return paths
    }

    private static func decodeResources(_ nodes: [JSONNode], file: String) throws(PackagingError)
        -> [BundleManifest.Resource]
    {
        var resources: [BundleManifest.Resource] = []
        var seen = Set<[UInt8]>()
        for (index, node) in nodes.enumerated() {
            let item = try SignatureJSONObject(
                node, at: "payload.predicate.resources[\(index)]", file: file, allowed: ["name", "algorithm", "digest"])
            let name = try item.string("name")
            let algorithm = try item.string("algorithm")
            guard algorithm == "sha256" else {
                throw .unsupportedSignature(path: file, reason: "resource `\(name)` uses algorithm `\(algorithm)` (only `sha256`)")
            }
            guard let digest = Hex.decode(try item.string("digest")), digest.count == 32 else {
                throw item.typeError("digest", "64 hex digits")
            }
            if name == "." {
                throw .unsupportedSignature(path: file, reason: "the signature covers a single file (resource `.`), not a directory")
            }
            if let violation = RelativePathRule.violation(name) {
                throw .unsafePath(path: file, name: name, reason: violation)
            }
            guard seen.insert(Array(name.utf8)).inserted else {
                throw .malformedSignature(path: file, reason: "resource `\(name)` is listed twice")
            }
            resources.append(BundleManifest.Resource(name: name, digest: digest))
        }
        return resources
    }
}
