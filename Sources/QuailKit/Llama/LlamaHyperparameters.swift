// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The hyperparameters of a llama-family model, independent of the file format they came from.
///
/// Read from an HF `config.json` (transformers `LlamaConfig` / `Qwen2Config` field names) or from a GGUF file's
/// `llama.*` / `qwen2.*` keys; both directions of `quail convert` go through this type.
public struct LlamaHyperparameters: Equatable, Sendable {
    /// HF `model_type` (`llama`, `mistral`, `qwen2`).
    public var modelType: String
    /// `hidden_size` / `llama.embedding_length`.
    public var hiddenSize: Int
    /// `intermediate_size` / `llama.feed_forward_length`.
    public var intermediateSize: Int
    /// `num_hidden_layers` / `llama.block_count`.
    public var layerCount: Int
    /// `num_attention_heads` / `llama.attention.head_count`.
    public var headCount: Int
    /// `num_key_value_heads` / `llama.attention.head_count_kv`.
    public var kvHeadCount: Int
    /// `head_dim` / `llama.attention.key_length`; hidden size / heads when not given.
    public var headDim: Int
    /// True when the source states the head dimension explicitly.
    public var headDimIsExplicit: Bool
    /// `max_position_embeddings` / `llama.context_length`.
    public var contextLength: Int
    /// `rms_norm_eps` / `llama.attention.layer_norm_rms_epsilon` (stored as FLOAT32 in GGUF).
    public var rmsNormEpsilon: Float
    /// `rope_theta` / `llama.rope.freq_base`.
    public var ropeTheta: Float
    /// `rope_scaling` / `llama.rope.scaling.type` `linear` with `llama.rope.scaling.factor`; nil for none.
    public var ropeScaling: RopeScaling?
    /// The per-frequency divisors of a GGUF file's `rope_freqs.weight` (how llama.cpp's converter stores Llama 3's
    /// rope scaling), set by the reader that decodes that tensor; applied on top of ``ropeScaling``.
    public var ropeFrequencyFactors: [Float]?
    /// `vocab_size` / `llama.vocab_size`.
    public var vocabSize: Int
    /// `tie_word_embeddings`; in GGUF, the absence of `output.weight`.
    public var tiedEmbeddings: Bool
    /// `bos_token_id`, if any.
    public var bosTokenID: Int?
    /// `eos_token_id`, if any (the first one when config.json lists several).
    public var eosTokenID: Int?

    /// The model types Quail reads and writes.
    public static let supportedModelTypes = ["llama", "mistral", "qwen2"]

    /// The GGUF `general.architecture` (and key prefix) llama.cpp's converter uses for the model type: `qwen2`
    /// for Qwen2, `llama` for Llama and Mistral.
    public var ggufArchitecture: String { modelType == "qwen2" ? "qwen2" : "llama" }

    /// True when q, k and v have bias vectors (Qwen2).
    public var hasQueryKeyValueBias: Bool { modelType == "qwen2" }

    /// True when llama.cpp's converter permutes the q/k rows for its interleaved RoPE kernel (`llama`); Qwen2 runs
    /// the half-split ("NEOX") kernel on rows in HF order.
    public var permutesQueryKey: Bool { ggufArchitecture == "llama" }

    /// Checks that the numbers describe a buildable model.
    ///
    /// - Throws: ``CheckpointError/inconsistentHyperparameters(path:reason:)``.
    public func validate(path: String) throws(CheckpointError) {
        func fail(_ reason: String) -> CheckpointError { .inconsistentHyperparameters(path: path, reason: reason) }
        for (name, value) in [
            ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
            ("num_hidden_layers", layerCount), ("num_attention_heads", headCount),
            ("num_key_value_heads", kvHeadCount), ("head_dim", headDim), ("vocab_size", vocabSize),
            ("max_position_embeddings", contextLength),
        ] where value <= 0 || value > 1 << 24 {
            throw fail("\(name) = \(value) is out of range")
        }
        guard headCount % kvHeadCount == 0 else {
            throw fail("num_attention_heads \(headCount) is not a multiple of num_key_value_heads \(kvHeadCount)")
        }
        guard headDim % 2 == 0 else { throw fail("head_dim \(headDim) is odd; RoPE needs pairs") }
        guard rmsNormEpsilon.isFinite, rmsNormEpsilon > 0 else { throw fail("rms_norm_eps must be positive") }
        guard ropeTheta.isFinite, ropeTheta > 0 else { throw fail("rope_theta must be positive") }
    }
}

// MARK: - HF config.json

extension LlamaHyperparameters {
    /// Reads `config.json`.
    ///
    /// - Throws: ``CheckpointError`` naming the file and the missing or ill-typed field, or the unsupported
    ///   `model_type`.
    public init(configJSON json: JSONValue, path: String) throws(CheckpointError) {
        func int(_ key: String) throws(CheckpointError) -> Int {
            guard let value = json[key]?.intValue else {
                throw .invalidField(path: path, key: key, expected: "an integer")
            }
            return value
        }
        func optionalInt(_ key: String) throws(CheckpointError) -> Int? {
            guard let value = json[key], value != .null else { return nil }
            guard let int = value.intValue else { throw .invalidField(path: path, key: key, expected: "an integer") }
            return int
        }
        func float(_ key: String, default fallback: Double?) throws(CheckpointError) -> Float {
            guard let value = json[key], value != .null else {
                guard let fallback else { throw .invalidField(path: path, key: key, expected: "a number") }
                return Float(fallback)
            }
            guard let double = value.doubleValue else {
                throw .invalidField(path: path, key: key, expected: "a number")
            }
            return Float(double)
        }
        guard case .object = json else { throw .invalidJSON(path: path, reason: "top level is not an object") }
        guard let modelType = json["model_type"]?.stringValue else {
            throw .invalidField(path: path, key: "model_type", expected: "a string")
        }
        guard Self.supportedModelTypes.contains(modelType) else {
            throw .unsupportedArchitecture(path: path, found: modelType, supported: Self.supportedModelTypes)
        }
        if modelType == "qwen2", json["use_sliding_window"]?.boolValue == true {
            throw .unsupportedArchitecture(
                path: path, found: "qwen2 with use_sliding_window true",
                supported: Self.supportedModelTypes.map { "\($0) without sliding-window attention" })
        }
        ropeScaling = try RopeScaling(configJSON: json["rope_scaling"], modelType: modelType, path: path)
        self.modelType = modelType
        hiddenSize = try int("hidden_size")
        intermediateSize = try int("intermediate_size")
        layerCount = try int("num_hidden_layers")
        headCount = try int("num_attention_heads")
        kvHeadCount = try optionalInt("num_key_value_heads") ?? headCount
        let explicitHeadDim = try optionalInt("head_dim")
        headDim = explicitHeadDim ?? (headCount > 0 ? hiddenSize / headCount : 0)
        headDimIsExplicit = explicitHeadDim != nil
        contextLength = try int("max_position_embeddings")
        rmsNormEpsilon = try float("rms_norm_eps", default: nil)
        ropeTheta = try float("rope_theta", default: 10000)
        vocabSize = try int("vocab_size")
        if let tied = json["tie_word_embeddings"], tied != .null {
            guard let flag = tied.boolValue else {
                throw .invalidField(path: path, key: "tie_word_embeddings", expected: "a boolean")
            }
            tiedEmbeddings = flag
        } else {
            tiedEmbeddings = false
        }
        bosTokenID = try optionalInt("bos_token_id")
        if let list = json["eos_token_id"]?.arrayValue {
            eosTokenID = list.first?.intValue
        } else {
            eosTokenID = try optionalInt("eos_token_id")
        }
        try validate(path: path)
    }

    /// The `config.json` Quail writes for these hyperparameters and a weight dtype (`bfloat16`, `float16`, `float32`).
    ///
    /// Qwen2 gets transformers' `Qwen2Config` fields (no `attention_bias`, `mlp_bias` or `pretraining_tp`; sliding
    /// window off), the others `LlamaConfig`'s.
    public func configJSON(torchDType: String) -> JSONValue {
        let qwen2 = modelType == "qwen2"
        let architecture =
            qwen2 ? "Qwen2ForCausalLM" : modelType == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM"
        var pairs: [(String, JSONValue)] = [("architectures", .array([.string(architecture)]))]
        if !qwen2 { pairs.append(("attention_bias", .bool(false))) }
        pairs.append(("attention_dropout", .number(0)))
        if let bosTokenID { pairs.append(("bos_token_id", .integer(bosTokenID))) }
        if let eosTokenID { pairs.append(("eos_token_id", .integer(eosTokenID))) }
        if headDimIsExplicit { pairs.append(("head_dim", .integer(headDim))) }
        pairs += [
            ("hidden_act", .string("silu")),
            ("hidden_size", .integer(hiddenSize)),
            ("intermediate_size", .integer(intermediateSize)),
            ("max_position_embeddings", .integer(contextLength)),
        ]
        if !qwen2 { pairs.append(("mlp_bias", .bool(false))) }
        pairs += [
            ("model_type", .string(modelType)),
            ("num_attention_heads", .integer(headCount)),
            ("num_hidden_layers", .integer(layerCount)),
            ("num_key_value_heads", .integer(kvHeadCount)),
        ]
        if !qwen2 { pairs.append(("pretraining_tp", .integer(1))) }
        pairs += [
            ("rms_norm_eps", .number(Self.shortestDouble(rmsNormEpsilon))),
            ("rope_scaling", ropeScaling?.configJSON ?? .null),
            ("rope_theta", .number(Self.shortestDouble(ropeTheta))),
            ("tie_word_embeddings", .bool(tiedEmbeddings)),
            ("torch_dtype", .string(torchDType)),
            ("use_cache", .bool(true)),
        ]
        if qwen2 { pairs.append(("use_sliding_window", .bool(false))) }
        pairs.append(("vocab_size", .integer(vocabSize)))
        return .object(pairs)
    }

    /// The decimal double whose text is the shortest that reads back as `value` in float32 (`1e-05`, not
    /// `9.999999747378752e-06`), so config.json stays readable and round-trips exactly.
    static func shortestDouble(_ value: Float) -> Double {
        Double("\(value)") ?? Double(value)
    }
}
