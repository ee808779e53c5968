// SPDX-License-Identifier: Apache-2.0

/// GGUF metadata key names, spelled exactly as gguf-py `constants.py` (`Keys`) and llama.cpp spell them.
///
/// The types llama.cpp expects are noted per key; llama.cpp checks the stored type exactly, so integers
/// must be written as UINT32 and reals as FLOAT32 where noted.
public enum GGUFKey {
    /// `general.*` keys.
    public enum General {
        /// Architecture name such as `llama` (STRING, required).
        public static let architecture = "general.architecture"
        /// Data alignment (UINT32, power of two; default 32 when absent).
        public static let alignment = "general.alignment"
        /// `LlamaFileType` of the file (UINT32).
        public static let fileType = "general.file_type"
        /// Quantization format version, 2 (UINT32; required when any tensor is quantized).
        public static let quantizationVersion = "general.quantization_version"
        /// Model name (STRING).
        public static let name = "general.name"
        /// File kind: `model` or `adapter` (STRING).
        public static let type = "general.type"
    }

    /// Hyperparameter keys prefixed by the architecture name, as in `llama.context_length`.
    public enum LLM {
        /// `{arch}.context_length` (UINT32).
        public static func contextLength(_ arch: String) -> String { "\(arch).context_length" }
        /// `{arch}.embedding_length` (UINT32).
        public static func embeddingLength(_ arch: String) -> String { "\(arch).embedding_length" }
        /// `{arch}.block_count` (UINT32).
        public static func blockCount(_ arch: String) -> String { "\(arch).block_count" }
        /// `{arch}.feed_forward_length` (UINT32).
        public static func feedForwardLength(_ arch: String) -> String {
            "\(arch).feed_forward_length"
        }
        /// `{arch}.vocab_size` (UINT32).
        public static func vocabSize(_ arch: String) -> String { "\(arch).vocab_size" }
        /// `{arch}.attention.head_count` (UINT32).
        public static func attentionHeadCount(_ arch: String) -> String {
            "\(arch).attention.head_count"
        }
        /// `{arch}.attention.head_count_kv` (UINT32).
        public static func attentionHeadCountKV(_ arch: String) -> String {
            "\(arch).attention.head_count_kv"
        }
        /// `{arch}.attention.layer_norm_rms_epsilon` (FLOAT32).
        public static func attentionLayerNormRMSEpsilon(_ arch: String) -> String {
            "\(arch).attention.layer_norm_rms_epsilon"
        }
        /// `{arch}.attention.key_length` (UINT32).
        public static func attentionKeyLength(_ arch: String) -> String {
            "\(arch).attention.key_length"
        }
        /// `{arch}.attention.value_length` (UINT32).
        public static func attentionValueLength(_ arch: String) -> String {
            "\(arch).attention.value_length"
        }
        /// `{arch}.rope.freq_base` (FLOAT32).
        public static func ropeFreqBase(_ arch: String) -> String { "\(arch).rope.freq_base" }
        /// `{arch}.rope.dimension_count` (UINT32).
        public static func ropeDimensionCount(_ arch: String) -> String {
            "\(arch).rope.dimension_count"
        }
        /// `{arch}.rope.scaling.type` (STRING: `none`, `linear`, `yarn`, …).
        public static func ropeScalingType(_ arch: String) -> String { "\(arch).rope.scaling.type" }
        /// `{arch}.rope.scaling.factor` (FLOAT32).
        public static func ropeScalingFactor(_ arch: String) -> String {
            "\(arch).rope.scaling.factor"
        }
        /// `{arch}.rope.scaling.original_context_length` (UINT32).
        public static func ropeScalingOriginalContextLength(_ arch: String) -> String {
            "\(arch).rope.scaling.original_context_length"
        }
    }

    /// `tokenizer.*` keys.
    public enum Tokenizer {
        /// Tokenizer kind: `llama` (SentencePiece) or `gpt2` (BPE) (STRING).
        public static let model = "tokenizer.ggml.model"
        /// BPE pre-tokenizer name (STRING).
        public static let pre = "tokenizer.ggml.pre"
        /// Vocabulary (ARRAY of STRING).
        public static let tokens = "tokenizer.ggml.tokens"
        /// Token kinds (ARRAY of INT32: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).
        public static let tokenType = "tokenizer.ggml.token_type"
        /// BPE merges (ARRAY of STRING).
        public static let merges = "tokenizer.ggml.merges"
        /// SentencePiece scores (ARRAY of FLOAT32).
        public static let scores = "tokenizer.ggml.scores"
        /// Beginning-of-sequence token id (UINT32).
        public static let bosTokenID = "tokenizer.ggml.bos_token_id"
        /// End-of-sequence token id (UINT32).
        public static let eosTokenID = "tokenizer.ggml.eos_token_id"
        /// Unknown token id (UINT32).
        public static let unknownTokenID = "tokenizer.ggml.unknown_token_id"
        /// Padding token id (UINT32).
        public static let paddingTokenID = "tokenizer.ggml.padding_token_id"
        /// Whether to prepend BOS (BOOL).
        public static let addBOSToken = "tokenizer.ggml.add_bos_token"
        /// Whether to append EOS (BOOL).
        public static let addEOSToken = "tokenizer.ggml.add_eos_token"
        /// Whether to add a leading space (BOOL).
        public static let addSpacePrefix = "tokenizer.ggml.add_space_prefix"
        /// Jinja chat template (STRING).
        public static let chatTemplate = "tokenizer.chat_template"
    }

    /// LoRA adapter keys (llama.cpp `llama-adapter.cpp`).
    public enum Adapter {
        /// Adapter kind, `lora` (STRING).
        public static let type = "adapter.type"
        /// LoRA alpha (FLOAT32; llama.cpp aborts on any other type).
        public static let loraAlpha = "adapter.lora.alpha"
    }
}
