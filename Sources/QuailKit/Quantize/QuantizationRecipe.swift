// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// Which type every tensor gets: the requested type, `--keep` patterns, `--type-for` overrides, and the
/// default rules of llama-quantize (GGUF output) or bitsandbytes/transformers (HF output).
///
/// Precedence, highest first: the first matching `--type-for` pattern; any matching `--keep` pattern; the
/// default rule. Patterns are regular expressions searched (not anchored) in both the HF name
/// (`model.layers.0.self_attn.q_proj.weight`) and the GGUF name (`blk.0.attn_q.weight`). A requested type
/// the tensor's shape or role cannot take is replaced by a fallback, which is reported (see
/// formats/quantization.md, "quail quantize recipe").
public struct QuantizationRecipe: Sendable {
    /// One `--type-for REGEX=TYPE` override.
    public struct TypeOverride: Sendable, Equatable {
        /// The regular expression.
        public let pattern: String
        /// The type it assigns.
        public let target: QuantizationTarget

        /// Creates an override from a pattern and a target.
        public init(pattern: String, target: QuantizationTarget) {
            self.pattern = pattern
            self.target = target
        }

        /// Parses `REGEX=TYPE` (split at the last `=`); bitsandbytes 4-bit types take the recipe's block size
        /// and double-quantization setting.
        ///
        /// - Throws: ``CheckpointError/invalidOption(path:option:value:reason:)`` for a missing `=`, an empty
        ///   pattern or an unknown type.
        public init(
            parsing argument: String, blockSize: Int, doubleQuantization: Bool, path: String
        ) throws(CheckpointError) {
            guard let split = argument.lastIndex(of: "="), split != argument.startIndex else {
                throw .invalidOption(
                    path: path, option: "--type-for", value: argument, reason: "expected REGEX=TYPE")
            }
            pattern = String(argument[..<split])
            target = try QuantizationTarget(
                name: String(argument[argument.index(after: split)...]), blockSize: blockSize,
                doubleQuantization: doubleQuantization, option: "--type-for", path: path)
        }
    }

    /// The requested type (`--type`).
    public var target: QuantizationTarget
    /// `--keep` patterns: matching tensors keep their source type.
    public var keepPatterns: [String]
    /// `--type-for` overrides, first match wins.
    public var typeOverrides: [TypeOverride]

    /// Creates a recipe.
    public init(target: QuantizationTarget, keepPatterns: [String] = [], typeOverrides: [TypeOverride] = []) {
        self.target = target
        self.keepPatterns = keepPatterns
        self.typeOverrides = typeOverrides
    }

    /// Checks the recipe against the output format and compiles its patterns.
    ///
    /// - Throws: ``CheckpointError/invalidOption(path:option:value:reason:)`` naming `destination` for a type
    ///   the output format cannot hold (bitsandbytes types need an HF directory, ggml types a `.gguf` file;
    ///   one bitsandbytes scheme per checkpoint) or a pattern that is not a regular expression.
    func compiled(for output: CheckpointFormat, destination: String) throws(CheckpointError) -> CompiledRecipe {
        try check(target, option: "--type", output: output, destination: destination)
        for override in typeOverrides {
            try check(override.target, option: "--type-for", output: output, destination: destination)
        }
        func regex(_ pattern: String, option: String) throws(CheckpointError) -> Regex<AnyRegexOutput> {
            do {
                return try Regex(pattern)
            } catch {
                throw .invalidOption(
                    path: destination, option: option, value: pattern, reason: "not a regular expression (\(error))")
            }
        }
        var keep: [Regex<AnyRegexOutput>] = []
        for pattern in keepPatterns { keep.append(try regex(pattern, option: "--keep")) }
        var overrides: [(Regex<AnyRegexOutput>, TypeOverride)] = []
        for override in typeOverrides { overrides.append((try regex(override.pattern, option: "--type-for"), override)) }
        return CompiledRecipe(recipe: self, output: output, keep: keep, overrides: overrides)
    }

    private func check(
        _ candidate: QuantizationTarget, option: String, output: CheckpointFormat, destination: String
    ) throws(CheckpointError) {
        func fail(_ reason: String) -> CheckpointError {
            .invalidOption(path: destination, option: option, value: candidate.name, reason: reason)
        }
        switch (output, candidate) {
        case (.ggufFile, _) where candidate.isBitsAndBytes:
            throw fail("bitsandbytes types are written to HF directories; give a destination not ending in .gguf")
        case (.hfDirectory, .ggml(let type)) where option == "--type" || type.isQuantized:
            throw fail(
                type.isQuantized
                    ? "ggml block types are written to GGUF files; give a destination ending in .gguf"
                    : "an HF output needs nf4, fp4 or int8 (use `quail convert --dtype` to change float types)")
        case (.hfDirectory, _) where candidate.isBitsAndBytes && candidate != target:
            throw fail("one bitsandbytes scheme per checkpoint: transformers reads it from config.json (--type is \(target))")
        default:
            break
        }
    }
}

/// A recipe checked against its output format, with compiled patterns.
struct CompiledRecipe {
    let recipe: QuantizationRecipe
    let output: CheckpointFormat
    let keep: [Regex<AnyRegexOutput>]
    let overrides: [(Regex<AnyRegexOutput>, QuantizationRecipe.TypeOverride)]

    /// The decision for one tensor of the source.
    func decide(_ tensor: PlannedTensor, tiedEmbeddings: Bool) -> TensorQuantization {
        let names = [tensor.hfName, LlamaTensorNames.ggufName(forHF: tensor.hfName) ?? tensor.outputName]
        func matches(_ regex: Regex<AnyRegexOutput>) -> Bool {
            names.contains { (try? regex.firstMatch(in: $0)) != nil }
        }
        let requested: QuantizationTarget
        let rule: String
        if let (_, override) = overrides.first(where: { matches($0.0) }) {
            (requested, rule) = (override.target, "--type-for \(override.pattern)")
        } else if keep.contains(where: matches) {
            (requested, rule) = (.ggml(storedType(keeping: tensor.sourceType)), "--keep")
        } else {
            (requested, rule) = defaultTarget(for: tensor, tiedEmbeddings: tiedEmbeddings)
        }
        let (target, fallback) = fallback(for: requested, tensor: tensor)
        return TensorQuantization(
            name: tensor.outputName, hfName: tensor.hfName, shape: tensor.shape, sourceType: tensor.sourceType.name,
            requested: requested, target: target, rule: rule, fallback: fallback,
            byteCount: target.byteCount(
                shape: tensor.shape, sourceDType: CheckpointQuantizer.storedFloatDType(of: tensor.sourceType)) ?? 0)
    }

    /// The type a kept tensor is stored as: its own, or F32 when an HF output cannot hold a ggml block type.
    private func storedType(keeping source: GGMLType) -> GGMLType {
        output == .hfDirectory ? TensorEncoding.ggmlType(for: CheckpointQuantizer.storedFloatDType(of: source)) ?? .f32 : source
    }

    /// llama-quantize's (GGUF) or transformers' (HF) choice for a tensor no pattern names.
    private func defaultTarget(
        for tensor: PlannedTensor, tiedEmbeddings: Bool
    ) -> (QuantizationTarget, String) {
        let role = LlamaTensorNames.role(ofHF: tensor.hfName)?.role
        let target = recipe.target
        if output == .hfDirectory {
            guard let role, Self.linearRoles.contains(role) else {
                return (.ggml(storedType(keeping: tensor.sourceType)), "default: bitsandbytes leaves it in float")
            }
            return (target, "default")
        }
        guard tensor.shape.count >= 2 else { return (.ggml(.f32), "default: 1-D tensors stay F32") }
        guard role == .output || role == .tokenEmbedding && tiedEmbeddings, let type = target.ggmlType,
            type.isQuantized
        else { return (target, "default") }
        // llama.cpp `llama_tensor_get_type_impl`: output (and tied token embedding) get Q8_0 when the row
        // does not fit the requested type, otherwise Q6_K unless Q8_0 was requested.
        let row = tensor.shape.last ?? 0
        let rule = "default: llama-quantize output rule"
        if row % type.blockSize != 0 || type == .q8_0 { return (.ggml(.q8_0), rule) }
        return (.ggml(.q6_K), rule)
    }

    /// The target actually written for `requested`, and why it differs (nil when it does not).
    private func fallback(
        for requested: QuantizationTarget, tensor: PlannedTensor
    ) -> (QuantizationTarget, String?) {
        let role = LlamaTensorNames.role(ofHF: tensor.hfName)?.role
        switch requested {
        case .ggml(let type) where type.isQuantized && type != tensor.sourceType:
            guard tensor.shape.count >= 2 else {
                return (.ggml(.f32), "1-D tensors are not block-quantized (llama.cpp keeps them F32)")
            }
            let row = tensor.shape.last ?? 0
            guard row % type.blockSize != 0 else { return (requested, nil) }
            var replacement = Self.shapeFallback[type] ?? .f16
            if row % replacement.blockSize != 0 { replacement = .f16 }
            return (
                .ggml(replacement),
                "rows of \(row) values are not a multiple of \(type.blockSize) (\(type.name))"
            )
        case .bitsAndBytes4Bit, .bitsAndBytesInt8:
            guard let role, Self.linearRoles.contains(role) else {
                return (
                    .ggml(storedType(keeping: tensor.sourceType)),
                    "bitsandbytes quantizes only the decoder's Linear layers"
                )
            }
            return (requested, nil)
        default:
            return (requested, nil)
        }
    }

    /// The decoder's Linear layers: what bitsandbytes quantizes and what llama-quantize calls weights.
    static let linearRoles: Set<LlamaTensorNames.Role> = [.query, .key, .value, .attentionOutput, .gate, .up, .down]

    /// llama.cpp `tensor_type_fallback` for rows that do not fit a 256-element super-block; types it has no
    /// entry for (the 32-element types) fall back to F16, where llama.cpp stops with an error.
    static let shapeFallback: [GGMLType: GGMLType] = [
        .q2_K: .q4_0, .q3_K: .q4_0, .q4_K: .q5_0, .q5_K: .q5_1, .q6_K: .q8_0,
    ]
}
