// SPDX-License-Identifier: Apache-2.0
import GGUF

// MARK: - GGUF llama.* / qwen2.* keys

extension LlamaHyperparameters {
    /// The GGUF architectures Quail reads and writes.
    public static let supportedGGUFArchitectures = ["llama", "qwen2"]

    /// Reads the `ARCH.*` keys of a GGUF file whose `general.architecture` is `llama` or `qwen2` (llama.cpp
    /// `llm_load_hparams` for `LLM_ARCH_LLAMA` and `LLM_ARCH_QWEN2`: the same keys under the architecture's prefix).
    ///
    /// - Parameters:
    ///   - hasOutputTensor: whether the file has `output.weight` (otherwise embeddings are tied).
    /// - Throws: ``CheckpointError`` naming the missing or ill-typed key, or an unsupported architecture.
    public init(metadata: GGUFMetadata, hasOutputTensor: Bool, path: String) throws(CheckpointError) {
        let arch = metadata["general.architecture"]?.stringValue ?? "missing"
        guard Self.supportedGGUFArchitectures.contains(arch) else {
            throw .unsupportedArchitecture(path: path, found: arch, supported: Self.supportedGGUFArchitectures)
        }
        let scalingType = metadata["\(arch).rope.scaling.type"]?.stringValue ?? "none"
        guard ["none", "linear"].contains(scalingType) else {
            throw .unsupportedArchitecture(
                path: path, found: "\(arch) with rope scaling `\(scalingType)`",
                supported: Self.supportedGGUFArchitectures.map { "\($0) with rope scaling none or linear" })
        }
        func int(_ key: String) throws(CheckpointError) -> Int {
            guard let value = metadata["\(arch).\(key)"]?.intValue else {
                throw .invalidField(path: path, key: "\(arch).\(key)", expected: "an unsigned integer")
            }
            return value
        }
        func float(_ key: String) throws(CheckpointError) -> Float? {
            guard let value = metadata["\(arch).\(key)"] else { return nil }
            guard case .float32(let f) = value else {
                throw .invalidField(path: path, key: "\(arch).\(key)", expected: "FLOAT32")
            }
            return f
        }
        func has(_ key: String) -> Bool { metadata["\(arch).\(key)"] != nil }
        modelType = arch
        hiddenSize = try int("embedding_length")
        intermediateSize = try int("feed_forward_length")
        layerCount = try int("block_count")
        headCount = try int("attention.head_count")
        kvHeadCount = has("attention.head_count_kv") ? try int("attention.head_count_kv") : headCount
        headDimIsExplicit = has("attention.key_length")
        headDim = headDimIsExplicit ? try int("attention.key_length") : (headCount > 0 ? hiddenSize / headCount : 0)
        contextLength = try int("context_length")
        guard let eps = try float("attention.layer_norm_rms_epsilon") else {
            throw .invalidField(path: path, key: "\(arch).attention.layer_norm_rms_epsilon", expected: "FLOAT32")
        }
        rmsNormEpsilon = eps
        ropeTheta = try float("rope.freq_base") ?? 10000
        // llama.cpp: a missing or zero factor means no scaling (`rope_freq_scale_train = 1`).
        if scalingType == "linear", let factor = try float("rope.scaling.factor"), factor != 0 {
            guard factor.isFinite, factor > 0 else {
                throw .invalidField(path: path, key: "\(arch).rope.scaling.factor", expected: "a positive FLOAT32")
            }
            ropeScaling = factor == 1 ? nil : .linear(factor: LlamaHyperparameters.shortestDouble(factor))
        }
        if has("vocab_size") {
            vocabSize = try int("vocab_size")
        } else if case .array(let tokens) = metadata["tokenizer.ggml.tokens"] {
            vocabSize = tokens.count
        } else {
            throw .invalidField(path: path, key: "\(arch).vocab_size", expected: "an unsigned integer")
        }
        tiedEmbeddings = !hasOutputTensor
        bosTokenID = metadata["tokenizer.ggml.bos_token_id"]?.intValue
        eosTokenID = metadata["tokenizer.ggml.eos_token_id"]?.intValue
        try validate(path: path)
        if has("rope.dimension_count"), try int("rope.dimension_count") != headDim {
            throw .inconsistentHyperparameters(
                path: path, reason: "\(arch).rope.dimension_count differs from the head dimension \(headDim)")
        }
    }

    /// The `general.*` and `ARCH.*` entries llama.cpp's loader requires, in the order llama.cpp's converter
    /// writes them, typed as the loader checks them (UINT32 integers, FLOAT32 floats).
    ///
    /// `general.file_type` is placed where the converter puts it; tokenizer keys come after these. The converter's
    /// `LlamaModel` adds `vocab_size` and `rope.dimension_count`; its `Qwen2Model` writes neither. Linear rope
    /// scaling is `rope.scaling.type` `linear` and `rope.scaling.factor`; the other kinds have no entries here
    /// (``CheckpointConverter`` refuses to write them).
    public func ggufEntries(fileType: UInt32) -> [(String, GGUFValue)] {
        let arch = ggufArchitecture
        var entries: [(String, GGUFValue)] = [
            ("general.architecture", .string(arch)),
            ("general.type", .string("model")),
            ("\(arch).block_count", .uint32(UInt32(layerCount))),
            ("\(arch).context_length", .uint32(UInt32(contextLength))),
            ("\(arch).embedding_length", .uint32(UInt32(hiddenSize))),
            ("\(arch).feed_forward_length", .uint32(UInt32(intermediateSize))),
            ("\(arch).attention.head_count", .uint32(UInt32(headCount))),
            ("\(arch).attention.head_count_kv", .uint32(UInt32(kvHeadCount))),
            ("\(arch).rope.freq_base", .float32(ropeTheta)),
            ("\(arch).attention.layer_norm_rms_epsilon", .float32(rmsNormEpsilon)),
        ]
        if headDimIsExplicit {
            entries.append(("\(arch).attention.key_length", .uint32(UInt32(headDim))))
            entries.append(("\(arch).attention.value_length", .uint32(UInt32(headDim))))
        }
        entries.append(("general.file_type", .uint32(fileType)))
        if arch == "llama" {
            entries += [
                ("llama.vocab_size", .uint32(UInt32(vocabSize))),
                ("llama.rope.dimension_count", .uint32(UInt32(headDim))),
            ]
        }
        if case .linear(let factor) = ropeScaling {
            entries += [
                ("\(arch).rope.scaling.type", .string("linear")),
                ("\(arch).rope.scaling.factor", .float32(Float(factor))),
            ]
        }
        return entries
    }
}
