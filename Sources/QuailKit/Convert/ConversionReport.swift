// SPDX-License-Identifier: Apache-2.0

/// What `quail convert` did.
public struct ConversionReport: Sendable {
    /// One tensor whose element type changed.
    public struct Cast: Sendable, Equatable {
        /// HF name of the tensor.
        public let tensor: String
        /// Source type name (`BF16`, `Q4_1`).
        public let from: String
        /// Output type name.
        public let to: String
        /// True when every value is kept exactly.
        public let lossless: Bool
    }

    /// Source path.
    public let source: String
    /// Output path.
    public let destination: String
    /// Number of tensors written.
    public let tensorCount: Int
    /// Bytes of tensor data written.
    public let tensorBytes: Int
    /// Tensors whose type changed.
    public let casts: [Cast]
    /// Other things a user should know (metadata kept in the sidecar, keys dropped, …).
    public let notes: [String]

    /// The report as JSON for `--json`.
    public var jsonRepresentation: JSONValue {
        .object([
            ("source", .string(source)), ("destination", .string(destination)),
            ("tensor_count", .integer(tensorCount)), ("tensor_bytes", .integer(tensorBytes)),
            ("casts", .array(casts.map { cast in
                .object([
                    ("tensor", .string(cast.tensor)), ("from", .string(cast.from)), ("to", .string(cast.to)),
                    ("lossless", .bool(cast.lossless)),
                ])
            })),
            ("notes", .array(notes.map { .string($0) })),
        ])
    }
}
