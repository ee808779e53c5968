// SPDX-License-Identifier: Apache-2.0
import Foundation
import Packaging

/// Calibration text: documents read from plain-text files (one document per file) or JSONL files (one
/// document per non-empty line, the string value of ``field``).
public struct CalibrationData: Sendable {
    /// The files, in the order given.
    public let paths: [String]
    /// The JSONL field, or nil when every file is plain text.
    public let field: String?
    /// The documents in file order, then line order.
    public let documents: [String]
    /// SHA-256 over the field name and every file's bytes (length-prefixed, in order).
    public let digest: String

    /// Reads `urls`; files named `*.jsonl` are read as JSONL with `field` (default `text`).
    ///
    /// - Throws: ``CalibrationError/emptyData(path:)``, ``CalibrationError/invalidJSONLine(path:line:reason:)``,
    ///   ``CalibrationError/missingField(path:line:field:)``, or the file error.
    public init(urls: [URL], field: String? = nil) throws {
        precondition(!urls.isEmpty, "no calibration files")
        let jsonlField = field ?? "text"
        var documents: [String] = []
        var digest = ContentDigest()
        var usesJSONL = false
        for url in urls {
            let data = try Data(contentsOf: url)
            digest.update(integer: UInt64(data.count))
            data.withUnsafeBytes { digest.update($0) }
            if url.pathExtension.lowercased() == "jsonl" {
                usesJSONL = true
                let found = try Self.jsonlDocuments(data, path: url.path, field: jsonlField)
                guard !found.isEmpty else { throw CalibrationError.emptyData(path: url.path) }
                documents += found
            } else {
                let text = String(decoding: data, as: UTF8.self)
                guard !text.isEmpty else { throw CalibrationError.emptyData(path: url.path) }
                documents.append(text)
            }
        }
        self.paths = urls.map(\.path)
        self.field = usesJSONL ? jsonlField : nil
        digest.update(lengthPrefixed: self.field ?? "")
        self.documents = documents
        self.digest = digest.finalize()
    }

    /// The non-empty documents of a JSONL file.
    private static func jsonlDocuments(_ data: Data, path: String, field: String) throws -> [String] {
        var documents: [String] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != 9 }) else {
                continue
            }
            let value: JSONValue
            do {
                value = try JSONValue(parsing: Data(line))
            } catch {
                throw CalibrationError.invalidJSONLine(path: path, line: index + 1, reason: "\(error)")
            }
            guard value.objectValue != nil else {
                throw CalibrationError.invalidJSONLine(path: path, line: index + 1, reason: "not an object")
            }
            guard let text = value[field]?.stringValue else {
                throw CalibrationError.missingField(path: path, line: index + 1, field: field)
            }
            if !text.isEmpty { documents.append(text) }
        }
        return documents
    }
}
