// SPDX-License-Identifier: Apache-2.0
import GGUF

// MARK: - GGUF llama.* keys

extension LlamaHyperparameters {
    /// Reads the `llama.*` keys of a GGUF file (llama.cpp `llm_load_hparams` for `LLM_ARCH_LLAMA`).
    ///
    /// - Parameters:
    ///   - hasOutputTensor: whether the file has `output.weight` (otherwise embeddings are tied).
    /// - Throws: ``CheckpointError`` naming the missing or ill-typed key, or an unsupported architecture.
    public init(metadata: GGUFMetadata, hasOutputTensor: Bool, path: String) throws(CheckpointError) {
        let arch = metadata["general.architecture"]?.stringValue ?? "missing"
        guard arch == "llama" else {
            throw .unsupportedArchitecture(path: path, found: arch, supported: ["llama"])
        }
        if let scaling = metadata["llama.rope.scaling.type"]?.stringValue, scaling != "none" {
            throw .unsupportedArchitecture(
                path: path, found: "llama with rope scaling `\(scaling)`", supported: ["llama without rope scaling"])
        }
        func int(_ key: String) throws(CheckpointError) -> Int {
            guard let value = metadata[key]?.intValue else {
                throw .invalidField(path: path, key: key, expected: "an unsigned integer")
            }
            return value
        }
        func float(_ key: String) throws(CheckpointError) -> Float? {
            guard let value = metadata[key] else { return nil }
            guard case .float32(let f) = value else { throw .invalidField(path: path, key: key, expected: "FLOAT32") }
            return f
        }
        modelType = "llama"
        hiddenSize = try int("llama.embedding_length")
        intermediateSize = try int("llama.feed_forward_length")
        layerCount = try int("llama.block_count")
        headCount = try int("llama.attention.head_count")
        kvHeadCount = metadata["llama.attention.head_count_kv"] == nil ? headCount : try int("llama.attention.head_count_kv")
        headDimIsExplicit = metadata["llama.attention.key_length"] != nil
        headDim = headDimIsExplicit ? try int("llama.attention.key_length") : (headCount > 0 ? hiddenSize / headCount : 0)
        contextLength = try int("llama.context_length")
        guard let eps = try float("llama.attention.layer_norm_rms_epsilon") else {
            throw .invalidField(path: path, key: "llama.attention.layer_norm_rms_epsilon", expected: "FLOAT32")
        }
        rmsNormEpsilon = eps
        ropeTheta = try float("llama.rope.freq_base") ?? 10000
        if metadata["llama.vocab_size"] != nil {
            vocabSize = try int("llama.vocab_size")
        } else if case .array(let tokens) = metadata["tokenizer.ggml.tokens"] {
            vocabSize = tokens.count
        } else {
            throw .invalidField(path: path, key: "llama.vocab_size", expected: "an unsigned integer")
        }
        tiedEmbeddings = !hasOutputTensor
        bosTokenID = metadata["tokenizer.ggml.bos_token_id"]?.intValue
        eosTokenID = metadata["tokenizer.ggml.eos_token_id"]?.intValue
        try validate(path: path)
        if metadata["llama.rope.dimension_count"] != nil, try int("llama.rope.dimension_count") != headDim {
            throw .inconsistentHyperparameters(
                path: path, reason: "llama.rope.dimension_count differs from the head dimension \(headDim)")
        }
    }

    /// The `general.*` and `llama.*` entries llama.cpp's loader requires, in the order llama.cpp's converter
    /// writes them, typed as the loader checks them (UINT32 integers, FLOAT32 floats).
    ///
    /// `general.file_type` is placed where the converter puts it; tokenizer keys come after these.
    public func ggufEntries(fileType: UInt32) -> [(String, GGUFValue)] {
        var entries: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")),
            ("general.type", .string("model")),
            ("llama.block_count", .uint32(UInt32(layerCount))),
            ("llama.context_length", .uint32(UInt32(contextLength))),
            ("llama.embedding_length", .uint32(UInt32(hiddenSize))),
            ("llama.feed_forward_length", .uint32(UInt32(intermediateSize))),
            ("llama.attention.head_count", .uint32(UInt32(headCount))),
            ("llama.attention.head_count_kv", .uint32(UInt32(kvHeadCount))),
            ("llama.rope.freq_base", .float32(ropeTheta)),
            ("llama.attention.layer_norm_rms_epsilon", .float32(rmsNormEpsilon)),
        ]
        if headDimIsExplicit {
            entries.append(("llama.attention.key_length", .uint32(UInt32(headDim))))
            entries.append(("llama.attention.value_length", .uint32(UInt32(headDim))))
        }
        entries += [
            ("general.file_type", .uint32(fileType)),
            ("llama.vocab_size", .uint32(UInt32(vocabSize))),
            ("llama.rope.dimension_count", .uint32(UInt32(headDim))),
        ]
        return entries
    }
}
