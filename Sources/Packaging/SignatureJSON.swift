// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore

/// A JSON object from a signature file, read strictly: members outside an allowed set are errors (as the
/// pydantic models behind model_signing forbid extra fields), and each accessor names the member in its error.
struct SignatureJSONObject {
    /// Dotted location for messages, for example `dsseEnvelope.signatures[0]`.
    let location: String
    /// The signature file, for messages.
    let file: String
    private let members: [JSONMember]

    /// Reads `node` as an object whose member names all lie in `allowed` (any names when nil).
    init(_ node: JSONNode, at location: String, file: String, allowed: Set<String>?) throws(PackagingError) {
        self.location = location
        self.file = file
        guard case .object(let members) = node else {
            throw .malformedSignature(path: file, reason: "\(location.isEmpty ? "the bundle" : location) must be an object")
        }
        self.members = members
        if let allowed, let unknown = members.first(where: { !allowed.contains($0.key) }) {
            throw .malformedSignature(path: file, reason: "unknown field `\(child(unknown.key))`")
        }
    }

    /// The dotted location of member `key`.
    func child(_ key: String) -> String { location.isEmpty ? key : "\(location).\(key)" }

    /// The member's value, or nil when absent or JSON null.
    func value(_ key: String) -> JSONNode? {
        guard let node = members.first(where: { $0.key == key })?.value, node != .null else { return nil }
        return node
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    func required(_ key: String) throws(PackagingError) -> JSONNode {
        guard let node = value(key) else { throw .malformedSignature(path: file, reason: "missing field `\(child(key))`") }
        return node
    }

    func string(_ key: String) throws(PackagingError) -> String {
        guard case .string(let text) = try required(key) else { throw typeError(key, "a string") }
        return text
    }

    func optionalString(_ key: String) throws(PackagingError) -> String? {
        guard let node = value(key) else { return nil }
        guard case .string(let text) = node else { throw typeError(key, "a string") }
        return text
    }

    func bool(_ key: String) throws(PackagingError) -> Bool {
        guard case .bool(let flag) = try required(key) else { throw typeError(key, "true or false") }
        return flag
    }

    func array(_ key: String) throws(PackagingError) -> [JSONNode] {
        guard case .array(let items) = try required(key) else { throw typeError(key, "an array") }
        return items
    }

    func object(_ key: String, allowed: Set<String>) throws(PackagingError) -> SignatureJSONObject {
        try SignatureJSONObject(required(key), at: child(key), file: file, allowed: allowed)
    }

    /// Standard base64 (with padding) decoded, as protobuf JSON writes `bytes` fields.
    func base64(_ key: String) throws(PackagingError) -> [UInt8] {
        let text = try string(key)
        guard let data = Data(base64Encoded: text) else { throw typeError(key, "standard base64") }
        return Array(data)
    }

    func typeError(_ key: String, _ expected: String) -> PackagingError {
        .malformedSignature(path: file, reason: "`\(child(key))` must be \(expected)")
    }
}

/// Writing the compact JSON of statements and bundles.
struct CompactJSONWriter {
    private(set) var bytes: [UInt8] = []

    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func string(_ text: String) { JSONText.appendString(text, to: &bytes, asciiOnly: false) }

    /// `"key":` followed by a string value.
    mutating func member(_ key: String, _ value: String) {
        string(key)
        raw(":")
        string(value)
    }

    /// `"key":` ready for a value.
    mutating func key(_ key: String) {
        string(key)
        raw(":")
    }
}

/// Checks that names from a signature stay inside the directory.
enum RelativePathRule {
    /// Why `name` is not a canonical relative POSIX path, or nil if it is one.
    static func violation(_ name: String) -> String? {
        if name.isEmpty { return "empty name" }
        if name.hasPrefix("/") { return "absolute path" }
        if name.utf8.contains(0) { return "NUL byte" }
        for component in name.split(separator: "/", omittingEmptySubsequences: false) {
            if component == ".." { return "`..` component leaves the directory" }
            if component.isEmpty { return "empty component (`//` or trailing `/`)" }
            if component == "." { return "`.` component" }
        }
        return nil
    }
}
