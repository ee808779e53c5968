// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import QuailKit
import SafeTensors
import TensorCore
import Testing
import Transformer

/// A tiny llama: hidden 16, 4 heads of 4 (2 kv heads), feed-forward 24, 2 blocks, vocabulary 29.
private func tinyHyperparameters() throws -> LlamaHyperparameters {
    let config = try JSONValue(
        parsing: Data(
            """
            {"model_type": "llama", "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 29, "rms_norm_eps": 1e-5,
             "rope_theta": 10000.0, "tie_word_embeddings": false, "max_position_embeddings": 64}
            """.utf8))
    return try LlamaHyperparameters(configJSON: config, path: "config.json")
}

private func gaussian(_ rows: Int, _ columns: Int, scale: Double, _ rng: inout SplitMix64) -> Matrix {
    Matrix(rows: rows, columns: columns, values: (0..<rows * columns).map { _ in Float(rng.nextGaussian() * scale) })
}

private func randomWeights(_ c: LlamaConfiguration, _ rng: inout SplitMix64) -> InMemoryWeights {
    let s = 1 / Double(c.hiddenSize).squareRoot()
    func gain() -> [Float] { (0..<c.hiddenSize).map { _ in Float(1 + 0.1 * rng.nextGaussian()) } }
    let layers = (0..<c.layerCount).map { _ in
        LlamaLayerWeights(
            attentionNorm: gain(), query: gaussian(c.queryWidth, c.hiddenSize, scale: s, &rng),
            key: gaussian(c.keyValueWidth, c.hiddenSize, scale: s, &rng),
            value: gaussian(c.keyValueWidth, c.hiddenSize, scale: s, &rng),
            attentionOutput: gaussian(c.hiddenSize, c.queryWidth, scale: s, &rng), feedForwardNorm: gain(),
            gate: gaussian(c.intermediateSize, c.hiddenSize, scale: s, &rng),
            up: gaussian(c.intermediateSize, c.hiddenSize, scale: s, &rng),
            down: gaussian(c.hiddenSize, c.intermediateSize, scale: s, &rng))
    }
    return InMemoryWeights(
        embedding: gaussian(c.vocabSize, c.hiddenSize, scale: 1, &rng), layers: layers,
        head: LlamaHeadWeights(outputNorm: gain(), output: gaussian(c.vocabSize, c.hiddenSize, scale: s, &rng)))
}

/// Records the last block's output and its `down_proj` input.
private final class LastBlockRecorder: ActivationObserving {
    let lastLayer: Int
    var downInput: [Float] = []
    var blockOutput: [Float] = []
    init(lastLayer: Int) { self.lastLayer = lastLayer }

    func observe(_ input: LinearInput) {
        if input.layer == lastLayer, input.group == .feedForwardProduct { downInput = Array(input.values) }
    }

    func observe(_ state: HiddenState) {
        if state.stage == .afterLayer(lastLayer) { blockOutput = Array(state.values) }
    }
}

private func maxDifference(_ x: [Float], _ y: [Float]) -> Float {
    var largest: Float = 0
    for (p, q) in zip(x, y) { largest = Swift.max(largest, abs(p - q)) }
    return largest
}

/// Writes a PEFT adapter directory with the given config and F32 tensors.
private func writePEFT(_ directory: URL, config: String, tensors: [(String, Matrix)]) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try Data(config.utf8).write(to: directory.appendingPathComponent("adapter_config.json"))
    let entries = tensors.map { SafeTensorsWriter.Entry(name: $0.0, dtype: .f32, shape: [$0.1.rows, $0.1.columns]) }
    let values = Dictionary(uniqueKeysWithValues: tensors.map { ($0.0, $0.1.values) })
    try SafeTensorsWriter.write(to: directory.appendingPathComponent("adapter_model.safetensors"), tensors: entries) {
        entry, stream in
        try values[entry.name, default: []].withUnsafeBytes { try stream.write($0) }
    }
}

@Suite("LoRA adapter")
struct LoRAAdapterTests {
    @Test("merged down_proj forward equals the base forward plus s·(x·Aᵀ)·Bᵀ added to the last block's output")
    func mergedForwardMatchesLowRankPath() throws {
        let h = try tinyHyperparameters()
        let c = LlamaConfiguration(h)
        var rng = SplitMix64(seed: 41)
        let base = randomWeights(c, &rng)
        let rank = 3
        let a = gaussian(rank, c.intermediateSize, scale: 0.3, &rng)
        let b = gaussian(c.hiddenSize, rank, scale: 0.3, &rng)
        let scale: Float = 1.75
        let last = c.layerCount - 1
        let adapter = try LoRAAdapter(
            url: URL(fileURLWithPath: "memory"), format: .peft,
            updates: [.init(weightName: "model.layers.\(last).mlp.down_proj.weight", a: a, b: b, scale: scale)],
            for: h)
        let tokens = (0..<7).map { _ in Int(rng.next() % UInt64(c.vocabSize)) }

        let recorder = LastBlockRecorder(lastLayer: last)
        let baseLogits = try LlamaModel(configuration: c, source: base, residency: .resident, threads: 1)
            .forward(tokens: tokens, observer: recorder)
        let merged = try LlamaModel(
            configuration: c, source: AdaptedWeights(base: base, adapter: adapter), residency: .resident, threads: 1
        ).forward(tokens: tokens)

        // Naive path: h' = h + s·B·(A·x) per token, then the final norm and the output head.
        var expected: [Float] = []
        for t in tokens.indices {
            let x = Array(recorder.downInput[t * c.intermediateSize..<(t + 1) * c.intermediateSize])
            let ax = (0..<rank).map { r in (0..<x.count).reduce(Float(0)) { $0 + a[r, $1] * x[$1] } }
            var hidden = Array(recorder.blockOutput[t * c.hiddenSize..<(t + 1) * c.hiddenSize])
            for i in hidden.indices { hidden[i] += scale * (0..<rank).reduce(Float(0)) { $0 + b[i, $1] * ax[$1] } }
            let mean = hidden.reduce(0) { $0 + $1 * $1 } / Float(hidden.count)
            let normed = zip(hidden, base.head.outputNorm).map { $0 / (mean + c.rmsNormEpsilon).squareRoot() * $1 }
            let output = base.head.output
            expected += (0..<output.rows).map { v in
                (0..<output.columns).reduce(Float(0)) { $0 + output[v, $1] * normed[$1] }
            }
        }
        let difference = maxDifference(merged.values, expected)
        let shift = maxDifference(merged.values, baseLogits.values)
        #expect(difference < 1e-4)
        #expect(shift > 1e-2)  // the adapter changes the logits
    }

    @Test("PEFT scales: α/r, α/√r with rsLoRA, and rank_pattern/alpha_pattern per module")
    func peftScaleRules() throws {
        let h = try tinyHyperparameters()
        var rng = SplitMix64(seed: 7)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("quail-lora-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let q = "base_model.model.model.layers.0.self_attn.q_proj"
        let v = "base_model.model.model.layers.1.self_attn.v_proj"
        let tensors = [
            (q + ".lora_A.weight", gaussian(4, 16, scale: 1, &rng)),
            (q + ".lora_B.weight", gaussian(16, 4, scale: 1, &rng)),
            (v + ".lora_A.weight", gaussian(2, 16, scale: 1, &rng)),
            (v + ".lora_B.weight", gaussian(8, 2, scale: 1, &rng)),
        ]
        let pattern = #""rank_pattern": {"v_proj": 2}, "alpha_pattern": {"layers.1.self_attn.v_proj": 3}"#
        for (name, rsLoRA) in [("plain", false), ("rs", true)] {
            let directory = root.appendingPathComponent(name)
            try writePEFT(
                directory,
                config: #"{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "use_rslora": \#(rsLoRA), \#(pattern)}"#,
                tensors: tensors)
            let adapter = try LoRAAdapter(contentsOf: directory, for: h)
            let qScale = try #require(adapter.updates["model.layers.0.self_attn.q_proj.weight"]?.scale)
            let vScale = try #require(adapter.updates["model.layers.1.self_attn.v_proj.weight"]?.scale)
            #expect(abs(qScale - (rsLoRA ? 8 / 2 : 8 / 4)) < 1e-6)
            #expect(abs(vScale - (rsLoRA ? 3 / Float(2).squareRoot() : 3 / 2)) < 1e-6)
            #expect(adapter.format == .peft)
        }
    }

    @Test("unknown keys, DoRA vectors, embedding adapters and wrong shapes are rejected naming the file")
    func badAdapters() throws {
        let h = try tinyHyperparameters()
        var rng = SplitMix64(seed: 9)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("quail-lora-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let config = #"{"peft_type": "LORA", "r": 2, "lora_alpha": 4}"#
        let q = "base_model.model.model.layers.0.self_attn.q_proj"
        let good = [
            (q + ".lora_A.weight", gaussian(2, 16, scale: 1, &rng)),
            (q + ".lora_B.weight", gaussian(16, 2, scale: 1, &rng)),
        ]
        let cases: [(String, [(String, Matrix)])] = [
            ("unknown", good + [("base_model.model.model.layers.0.mystery", gaussian(1, 1, scale: 1, &rng))]),
            ("dora", good + [(q + ".lora_magnitude_vector", gaussian(1, 16, scale: 1, &rng))]),
            (
                "embedding",
                [
                    ("base_model.model.model.embed_tokens.lora_A.weight", gaussian(2, 29, scale: 1, &rng)),
                    ("base_model.model.model.embed_tokens.lora_B.weight", gaussian(16, 2, scale: 1, &rng)),
                ]
            ),
            ("shape", [(q + ".lora_A.weight", gaussian(2, 15, scale: 1, &rng)), good[1]]),
            ("empty", []),
        ]
        for (name, tensors) in cases {
            let directory = root.appendingPathComponent(name)
            try writePEFT(directory, config: config, tensors: tensors)
            let error = try #require(throws: CheckpointError.self) { try LoRAAdapter(contentsOf: directory, for: h) }
            #expect(error.description.contains(directory.path), "\(name): \(error)")
        }
    }
}
