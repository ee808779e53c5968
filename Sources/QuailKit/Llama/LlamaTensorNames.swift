// SPDX-License-Identifier: Apache-2.0

/// The tensors of a llama-family checkpoint: HF names, GGUF names and expected shapes.
///
/// HF names follow transformers' `LlamaForCausalLM` / `Qwen2ForCausalLM` state dict; GGUF names follow gguf-py's
/// `MODEL_TENSOR` table for `MODEL_ARCH.LLAMA` and `MODEL_ARCH.QWEN2` (`constants.py`, `tensor_mapping.py`).
public enum LlamaTensorNames {
    /// The role of a tensor inside a block or the model.
    public enum Role: String, Sendable, CaseIterable {
        case tokenEmbedding, outputNorm, output
        case attentionNorm, query, key, value, attentionOutput, feedForwardNorm, gate, up, down
        /// Qwen2's q/k/v biases.
        case queryBias, keyBias, valueBias
    }

    /// GGUF `rope_freqs.weight`: per-frequency RoPE divisors (Llama 3 rope scaling as llama.cpp's converter writes
    /// it); it has no HF tensor, only eval and calibrate read it.
    public static let ropeFrequencies = "rope_freqs.weight"

    private static let globals: [(hf: String, gguf: String, role: Role)] = [
        ("model.embed_tokens.weight", "token_embd.weight", .tokenEmbedding),
        ("model.norm.weight", "output_norm.weight", .outputNorm),
        ("lm_head.weight", "output.weight", .output),
    ]

    private static let perBlock: [(hf: String, gguf: String, role: Role)] = [
        ("input_layernorm.weight", "attn_norm.weight", .attentionNorm),
        ("self_attn.q_proj.weight", "attn_q.weight", .query),
        ("self_attn.k_proj.weight", "attn_k.weight", .key),
        ("self_attn.v_proj.weight", "attn_v.weight", .value),
        ("self_attn.o_proj.weight", "attn_output.weight", .attentionOutput),
        ("post_attention_layernorm.weight", "ffn_norm.weight", .feedForwardNorm),
        ("mlp.gate_proj.weight", "ffn_gate.weight", .gate),
        ("mlp.up_proj.weight", "ffn_up.weight", .up),
        ("mlp.down_proj.weight", "ffn_down.weight", .down),
        ("self_attn.q_proj.bias", "attn_q.bias", .queryBias),
        ("self_attn.k_proj.bias", "attn_k.bias", .keyBias),
        ("self_attn.v_proj.bias", "attn_v.bias", .valueBias),
    ]

    /// The roles every block has; the q/k/v biases come on top for ``LlamaHyperparameters/hasQueryKeyValueBias``.
    private static func blockEntries(for hparams: LlamaHyperparameters) -> [(hf: String, gguf: String, role: Role)] {
        let biases: Set<Role> = [.queryBias, .keyBias, .valueBias]
        return perBlock.filter { hparams.hasQueryKeyValueBias || !biases.contains($0.role) }
    }

    /// The GGUF name of an HF tensor, or nil if the name is not part of the architecture.
    public static func ggufName(forHF name: String) -> String? {
        if let global = globals.first(where: { $0.hf == name }) { return global.gguf }
        guard let (block, suffix) = split(name, prefix: "model.layers."),
            let entry = perBlock.first(where: { $0.hf == suffix })
        else { return nil }
        return "blk.\(block).\(entry.gguf)"
    }

    /// The HF name of a GGUF tensor, or nil if the name is not part of the architecture.
    public static func hfName(forGGUF name: String) -> String? {
        if let global = globals.first(where: { $0.gguf == name }) { return global.hf }
        guard let (block, suffix) = split(name, prefix: "blk."),
            let entry = perBlock.first(where: { $0.gguf == suffix })
        else { return nil }
        return "model.layers.\(block).\(entry.hf)"
    }

    /// The role and block index of an HF tensor name.
    public static func role(ofHF name: String) -> (role: Role, block: Int?)? {
        if let global = globals.first(where: { $0.hf == name }) { return (global.role, nil) }
        guard let (block, suffix) = split(name, prefix: "model.layers."),
            let entry = perBlock.first(where: { $0.hf == suffix })
        else { return nil }
        return (entry.role, block)
    }

    /// Every HF tensor name a model with these hyperparameters has, in natural order.
    public static func expectedHFNames(for hparams: LlamaHyperparameters) -> [String] {
        var names = ["model.embed_tokens.weight"]
        let entries = blockEntries(for: hparams)
        for block in 0..<hparams.layerCount {
            names += entries.map { "model.layers.\(block).\($0.hf)" }
        }
        names.append("model.norm.weight")
        if !hparams.tiedEmbeddings { names.append("lm_head.weight") }
        return naturallySorted(names)
    }

    /// The HF (PyTorch, outermost-first) shape of a tensor role.
    public static func expectedShape(of role: Role, for h: LlamaHyperparameters) -> [Int] {
        switch role {
        case .tokenEmbedding, .output: [h.vocabSize, h.hiddenSize]
        case .outputNorm, .attentionNorm, .feedForwardNorm: [h.hiddenSize]
        case .query: [h.headCount * h.headDim, h.hiddenSize]
        case .key, .value: [h.kvHeadCount * h.headDim, h.hiddenSize]
        case .attentionOutput: [h.hiddenSize, h.headCount * h.headDim]
        case .gate, .up: [h.intermediateSize, h.hiddenSize]
        case .down: [h.hiddenSize, h.intermediateSize]
        case .queryBias: [h.headCount * h.headDim]
        case .keyBias, .valueBias: [h.kvHeadCount * h.headDim]
        }
    }

    /// Names sorted with digit runs compared as numbers (`layers.2` before `layers.10`).
    ///
    /// This is the order llama.cpp's converter emits tensors of an HF checkpoint in.
    public static func naturallySorted(_ names: [String]) -> [String] {
        names.sorted { naturalKey($0).lexicographicallyPrecedes(naturalKey($1)) }
    }

    private static func naturalKey(_ name: String) -> [NaturalPart] {
        var parts: [NaturalPart] = []
        var digits = ""
        var text = ""
        for ch in name {
            if ch.isASCII, ch.isNumber {
                if !text.isEmpty { parts.append(.text(text)); text = "" }
                digits.append(ch)
            } else {
                if !digits.isEmpty { parts.append(.number(Int(digits) ?? 0, digits)); digits = "" }
                text.append(ch)
            }
        }
        if !text.isEmpty { parts.append(.text(text)) }
        if !digits.isEmpty { parts.append(.number(Int(digits) ?? 0, digits)) }
        return parts
    }

    private static func split(_ name: String, prefix: String) -> (Int, String)? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let block = Int(rest[..<dot]), block >= 0,
            String(block) == rest[..<dot]
        else { return nil }
        return (block, String(rest[rest.index(after: dot)...]))
    }
}

private enum NaturalPart: Comparable {
    case number(Int, String)
    case text(String)

    static func < (lhs: NaturalPart, rhs: NaturalPart) -> Bool {
        switch (lhs, rhs) {
        case (.number(let a, let sa), .number(let b, let sb)): a != b ? a < b : sa < sb
        case (.text(let a), .text(let b)): a < b
        case (.number, .text): true
        case (.text, .number): false
        }
    }
}
