// SPDX-License-Identifier: Apache-2.0
import Foundation
import Quantization
import QuailKit
import SafeTensors
import TensorCore

/// A synthetic one-layer llama checkpoint (F32 weights from a seeded generator) with the tiny-llama tokenizer.
///
/// `hidden` need not be a multiple of 32, so shape fallbacks can be exercised; `poison` puts a NaN into the
/// named tensor.
func makeSyntheticCheckpoint(
    in temp: TemporaryDirectory, name: String = "synthetic", hidden: Int = 48, intermediate: Int = 96,
    heads: Int = 2, poison: String? = nil, seed: UInt64 = 7
) throws -> URL {
    let directory = temp.path(name)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let config = """
        {"architectures": ["LlamaForCausalLM"], "hidden_size": \(hidden), "intermediate_size": \(intermediate),
         "max_position_embeddings": 128, "model_type": "llama", "num_attention_heads": \(heads),
         "num_hidden_layers": 1, "num_key_value_heads": \(heads), "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
         "tie_word_embeddings": false, "torch_dtype": "float32", "vocab_size": 512, "bos_token_id": 1,
         "eos_token_id": 2}
        """
    try Data(config.utf8).write(to: directory.appendingPathComponent("config.json"))
    for file in ["tokenizer.json", "tokenizer_config.json"] {
        try FileManager.default.copyItem(
            at: fixturesDirectory.appendingPathComponent("tiny-llama").appendingPathComponent(file),
            to: directory.appendingPathComponent(file))
    }
    let shapes: [(String, [Int])] = [
        ("model.embed_tokens.weight", [512, hidden]), ("model.norm.weight", [hidden]), ("lm_head.weight", [512, hidden]),
        ("model.layers.0.input_layernorm.weight", [hidden]),
        ("model.layers.0.post_attention_layernorm.weight", [hidden]),
        ("model.layers.0.self_attn.q_proj.weight", [hidden, hidden]),
        ("model.layers.0.self_attn.k_proj.weight", [hidden, hidden]),
        ("model.layers.0.self_attn.v_proj.weight", [hidden, hidden]),
        ("model.layers.0.self_attn.o_proj.weight", [hidden, hidden]),
        ("model.layers.0.mlp.gate_proj.weight", [intermediate, hidden]),
        ("model.layers.0.mlp.up_proj.weight", [intermediate, hidden]),
        ("model.layers.0.mlp.down_proj.weight", [hidden, intermediate]),
    ]
    var random = SplitMix64(seed: seed)
    var values: [String: [Float]] = [:]
    for (tensor, shape) in shapes {
        var data = (0..<shape.reduce(1, *)).map { _ in Float(random.nextGaussian()) * 0.05 }
        if tensor == poison { data[data.count / 2] = .nan }
        values[tensor] = data
    }
    try SafeTensorsWriter.write(
        to: directory.appendingPathComponent("model.safetensors"),
        tensors: shapes.map { SafeTensorsWriter.Entry(name: $0.0, dtype: .f32, shape: $0.1) }
    ) { entry, stream in
        try values[entry.name, default: []].withUnsafeBytes { try stream.write($0) }
    }
    return directory
}

/// The float32 values of a safetensors tensor (F32, F16 or BF16).
func floats(_ checkpoint: SafeTensorsCheckpoint, _ name: String) throws -> [Float] {
    guard let (file, info) = checkpoint.locate(name) else { throw CheckpointError.missingTensors(path: "", names: [name]) }
    let type: GGMLType = info.dtype == .bf16 ? .bf16 : info.dtype == .f16 ? .f16 : .f32
    var values = [Float](repeating: 0, count: info.shape.reduce(1, *))
    try values.withUnsafeMutableBufferPointer { try GGMLCodec.dequantize(file.bytes(of: info), as: type, into: $0) }
    return values
}

/// Quantizes with the given type name and recipe options.
@discardableResult
func runQuantize(
    _ source: URL, _ destination: URL, type: String, keep: [String] = [], typeFor: [String] = [],
    blockSize: Int = 64, doubleQuantization: Bool = true, strict: Bool = false, dryRun: Bool = false,
    maxShardByteCount: Int = 5_000_000_000
) throws -> QuantizationReport {
    let target = try QuantizationTarget(
        name: type, blockSize: blockSize, doubleQuantization: doubleQuantization, path: destination.path)
    let overrides = try typeFor.map {
        try QuantizationRecipe.TypeOverride(
            parsing: $0, blockSize: blockSize, doubleQuantization: doubleQuantization, path: destination.path)
    }
    return try CheckpointQuantizer.quantize(
        from: source, to: destination,
        options: .init(
            recipe: QuantizationRecipe(target: target, keepPatterns: keep, typeOverrides: overrides), strict: strict,
            dryRun: dryRun, maxShardByteCount: maxShardByteCount))
}

/// Rewrites safetensors file `url` in place: a key mapped to bytes gets those bytes (same dtype and shape), a key
/// mapped to nil is dropped, every other tensor is copied.
func rewriteShard(_ url: URL, replacing changes: [String: [UInt8]?]) throws {
    let original = try SafeTensorsFile(contentsOf: url)
    let kept = original.tensors.filter { changes[$0.name] != .some(nil) }
    try SafeTensorsWriter.write(
        to: url, tensors: kept.map { SafeTensorsWriter.Entry(name: $0.name, dtype: $0.dtype, shape: $0.shape) },
        metadata: original.metadata, overwrite: true
    ) { entry, stream in
        if case .some(.some(let bytes)) = changes[entry.name] { return try stream.write(bytes) }
        guard let info = original[entry.name] else { return }
        try stream.write(original.bytes(of: info))
    }
}

/// The little-endian bytes of float32 values, as safetensors stores F32.
func littleEndianBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
}
