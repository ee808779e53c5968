// SPDX-License-Identifier: Apache-2.0
import Foundation

/// One `-----BEGIN LABEL-----` … `-----END LABEL-----` block of a PEM file (RFC 7468).
struct PEMDocument: Equatable, Sendable {
    /// The label, for example `PUBLIC KEY` or `EC PRIVATE KEY`.
    let label: String
    /// The decoded DER bytes.
    let der: [UInt8]
    /// Whether the block had RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`).
    let hasHeaders: Bool

    /// Every PEM block in `text`, in order; text outside blocks is ignored (as OpenSSL does).
    static func parseAll(_ text: String) throws(PEMParseError) -> [PEMDocument] {
        var documents: [PEMDocument] = []
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)[...]
        while let line = lines.popFirst() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard let label = boundary(trimmed, kind: "BEGIN") else { continue }
            var body = ""
            var hasHeaders = false
            var closed = false
            while let inner = lines.popFirst() {
                let content = inner.trimmingCharacters(in: .whitespaces)
                if let end = boundary(content, kind: "END") {
                    guard end == label else { throw .mismatchedEnd(begin: label, end: end) }
                    closed = true
                    break
                }
                if content.contains(":") {
                    hasHeaders = true
                } else {
                    body += content
                }
            }
            guard closed else { throw .unterminated(label: label) }
            guard let der = Data(base64Encoded: body) else { throw .invalidBase64(label: label) }
            documents.append(PEMDocument(label: label, der: Array(der), hasHeaders: hasHeaders))
        }
        return documents
    }

    /// The label of a `-----BEGIN X-----` or `-----END X-----` line, or nil.
    private static func boundary(_ line: String, kind: String) -> String? {
        let prefix = "-----\(kind) "
        guard line.hasPrefix(prefix), line.hasSuffix("-----"), line.count >= prefix.count + 5 else { return nil }
        return String(line.dropFirst(prefix.count).dropLast(5))
    }

    /// The PEM text of `der` under `label`: base64 in 64-character lines and a final newline, exactly as
    /// OpenSSL and Python `cryptography` write keys.
    static func encode(label: String, der: [UInt8]) -> String {
        let base64 = Data(der).base64EncodedString()
        var text = "-----BEGIN \(label)-----\n"
        var start = base64.startIndex
        while start < base64.endIndex {
            let end = base64.index(start, offsetBy: 64, limitedBy: base64.endIndex) ?? base64.endIndex
            text += base64[start..<end] + "\n"
            start = end
        }
        return text + "-----END \(label)-----\n"
    }
}

/// Why a PEM file could not be split into blocks.
enum PEMParseError: Error, Equatable, CustomStringConvertible {
    case mismatchedEnd(begin: String, end: String)
    case unterminated(label: String)
    case invalidBase64(label: String)

    var description: String {
        switch self {
        case .mismatchedEnd(let begin, let end): "`BEGIN \(begin)` closed by `END \(end)`"
        case .unterminated(let label): "`BEGIN \(label)` has no END line"
        case .invalidBase64(let label): "the body of `\(label)` is not valid base64"
        }
    }
}
