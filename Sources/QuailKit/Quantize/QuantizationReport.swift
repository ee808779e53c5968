// SPDX-License-Identifier: Apache-2.0
import Foundation

/// What `quail quantize` did (or, for a dry run, would do): every tensor's type and size, and the summary.
public struct QuantizationReport: Sendable {
    /// Source path.
    public let source: String
    /// Output path.
    public let destination: String
    /// The requested type (`--type`).
    public let target: QuantizationTarget
    /// True when nothing was written.
    public let dryRun: Bool
    /// One row per tensor in output order.
    public internal(set) var tensors: [TensorQuantization]
    /// Other things a user should know.
    public internal(set) var notes: [String]
    /// Wall seconds spent in the quantizers (encoding values already read; no I/O), summed over tensors; nil
    /// for a dry run.
    public internal(set) var quantizeSeconds: Double? = nil

    /// The bits per weight of the requested scheme itself (Q4_0 4.5, NF4/64 with double quantization 4.127).
    public var nominalBitsPerWeight: Double { target.nominalBitsPerWeight }

    /// Stored bits per weight over all tensors (kept and fallback tensors included).
    public var actualBitsPerWeight: Double {
        let elements = tensors.reduce(0) { $0 + $1.elementCount }
        return elements == 0 ? 0 : Double(totalByteCount * 8) / Double(elements)
    }

    /// Stored bytes of all tensors.
    public var totalByteCount: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    /// The tensors whose requested type could not be used.
    public var fallbacks: [TensorQuantization] { tensors.filter { $0.fallback != nil } }

    /// Throws when `--strict` forbids the fallbacks this report lists.
    ///
    /// - Throws: ``CheckpointError/fallbackRefused(path:tensors:)`` naming the source and every affected tensor
    ///   with the fallback that would be taken.
    public func checkStrict() throws(CheckpointError) {
        let refused = fallbacks.map { "\($0.name) (\($0.requested.name) -> \($0.target.name): \($0.fallback ?? ""))" }
        guard refused.isEmpty else { throw .fallbackRefused(path: source, tensors: refused) }
    }

    /// The report as JSON for `--json`.
    public var jsonRepresentation: JSONValue {
        .object([
            ("source", .string(source)), ("destination", .string(destination)),
            ("type", .string(target.name)), ("dry_run", .bool(dryRun)),
            ("tensors", .array(tensors.map { tensor in
                .object([
                    ("name", .string(tensor.name)), ("hf_name", .string(tensor.hfName)),
                    ("shape", .array(tensor.shape.map { .integer($0) })),
                    ("source_type", .string(tensor.sourceType)), ("requested", .string(tensor.requested.description)),
                    ("type", .string(tensor.target.description)), ("rule", .string(tensor.rule)),
                    ("fallback", tensor.fallback.map { .string($0) } ?? .null),
                    ("bytes", .integer(tensor.byteCount)), ("bits_per_weight", .number(Self.rounded(tensor.bitsPerWeight))),
                ])
            })),
            ("tensor_count", .integer(tensors.count)), ("tensor_bytes", .integer(totalByteCount)),
            ("fallback_count", .integer(fallbacks.count)),
            ("nominal_bits_per_weight", .number(Self.rounded(nominalBitsPerWeight))),
            ("actual_bits_per_weight", .number(Self.rounded(actualBitsPerWeight))),
            ("notes", .array(notes.map { .string($0) })),
            ("quantize_seconds", quantizeSeconds.map { .number(Self.rounded($0)) } ?? .null),
        ])
    }

    /// The per-tensor table and the summary as plain text.
    public var text: String {
        let rows = tensors.map { tensor -> [String] in
            [
                tensor.name, "[" + tensor.shape.map(String.init).joined(separator: ", ") + "]",
                "\(tensor.sourceType) -> \(tensor.target.description)",
                String(format: "%.3f", tensor.bitsPerWeight), String(tensor.byteCount),
                tensor.fallback.map { "fallback from \(tensor.requested.name): \($0)" } ?? tensor.rule,
            ]
        }
        let header = ["tensor", "shape", "type", "bpw", "bytes", "rule"]
        let widths = (0..<header.count).map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        var lines = ([header] + rows).map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        let verb = dryRun ? "would write" : "wrote"
        lines.append("")
        lines.append("\(verb) \(destination): \(tensors.count) tensors, \(totalByteCount) bytes of tensor data")
        lines.append(
            String(
                format: "bits per weight: nominal %.3f (%@), actual %.3f over all tensors", nominalBitsPerWeight,
                target.description, actualBitsPerWeight))
        if !fallbacks.isEmpty { lines.append("\(fallbacks.count) tensor(s) took a fallback type (see above)") }
        lines += notes.map { "note: \($0)" }
        return lines.joined(separator: "\n")
    }

    private static func rounded(_ value: Double) -> Double { (value * 10000).rounded() / 10000 }
}
