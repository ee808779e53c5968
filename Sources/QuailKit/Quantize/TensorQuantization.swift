// SPDX-License-Identifier: Apache-2.0

/// What `quail quantize` does to one tensor (a row of the dry run and of the report).
public struct TensorQuantization: Sendable, Equatable {
    /// The name in the output file.
    public let name: String
    /// The HF name.
    public let hfName: String
    /// The HF (outermost-first) shape.
    public let shape: [Int]
    /// The source type name (`BF16`, `Q4_1`).
    public let sourceType: String
    /// What the recipe asked for.
    public let requested: QuantizationTarget
    /// What is written.
    public let target: QuantizationTarget
    /// The rule that chose ``requested`` (`default`, `--keep`, `--type-for REGEX`, …).
    public let rule: String
    /// Why ``target`` differs from ``requested``; nil when it does not.
    public let fallback: String?
    /// Bytes stored for the tensor (every serialized part). For double-quantized bitsandbytes tensors the
    /// dry run assumes the longest `nested_offset` text; the report of a real run has the exact count.
    public internal(set) var byteCount: Int

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }

    /// Stored bits per element.
    public var bitsPerWeight: Double { elementCount == 0 ? 0 : Double(byteCount * 8) / Double(elementCount) }
}
