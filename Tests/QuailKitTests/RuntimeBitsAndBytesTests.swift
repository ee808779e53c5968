// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import QuailKit
import SafeTensors
import Testing
import Transformer

/// A bitsandbytes setting `quail quantize` writes: type, block size, double quantization.
struct BitsAndBytesSetting: Sendable, CustomTestStringConvertible {
    let type: String
    let blockSize: Int
    let double: Bool

    var testDescription: String { "\(type)/\(blockSize)\(double ? "+dq" : "")" }

    static let all = [
        BitsAndBytesSetting(type: "nf4", blockSize: 64, double: true),
        BitsAndBytesSetting(type: "nf4", blockSize: 64, double: false),
        BitsAndBytesSetting(type: "fp4", blockSize: 128, double: false),
        BitsAndBytesSetting(type: "fp4", blockSize: 32, double: true),
        BitsAndBytesSetting(type: "int8", blockSize: 64, double: false),
    ]
}

@Suite("Runtime on bitsandbytes pre-quantized HF directories")
struct RuntimeBitsAndBytesTests {
    private static let linears = [
        "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
        "mlp.up_proj", "mlp.down_proj",
    ]

    /// Quantizes fixture `model` with `setting` into `temp` and returns the output directory.
    private func quantized(_ model: String, _ setting: BitsAndBytesSetting, in temp: TemporaryDirectory) throws -> URL {
        let output = temp.path("\(model)-\(setting.type)")
        try runQuantize(
            fixturesDirectory.appendingPathComponent(model), output, type: setting.type, blockSize: setting.blockSize,
            doubleQuantization: setting.double)
        return output
    }

    @Test(
        "quantized linears decode as BitsAndBytesCheckpoint.dequantized, float tensors as the source",
        arguments: ["tiny-llama", "tiny-llama-untied"], BitsAndBytesSetting.all)
    func layersMatchReader(model: String, setting: BitsAndBytesSetting) throws {
        let temp = try TemporaryDirectory()
        let directory = try quantized(model, setting, in: temp)
        let weights = try CheckpointWeights(contentsOf: directory)
        let reader = try BitsAndBytesCheckpoint(directory: directory)
        let source = try CheckpointWeights(contentsOf: fixturesDirectory.appendingPathComponent(model))
        let layers = weights.configuration.layerCount
        #expect(weights.format == .hfDirectory && weights.configuration == source.configuration)
        let floatType = try #require(source.storedTypes.keys.first)
        #expect(
            weights.storedTypes
                == [setting.type: 7 * layers, floatType: source.storedTypes.values.reduce(0, +) - 7 * layers])
        for index in 0..<layers {
            let decoded = try weights.layerWeights(at: index)
            let original = try source.layerWeights(at: index)
            for (linear, matrix) in zip(Self.linears, Self.matrices(decoded)) {
                let name = "model.layers.\(index).\(linear).weight"
                #expect(reader.storage(of: name).map { if case .float = $0 { false } else { true } } == true)
                #expect([matrix.rows, matrix.columns] == reader.shape(of: name), "\(name)")
                #expect(matrix.values == (try reader.dequantized(name)), "\(name)")
            }
            #expect(decoded.query != original.query, "quantization changes the weights")
            #expect(decoded.attentionNorm == original.attentionNorm)
            #expect(decoded.feedForwardNorm == original.feedForwardNorm)
        }
        let head = try weights.headWeights()
        let originalHead = try source.headWeights()
        #expect(head.outputNorm == originalHead.outputNorm && head.output == originalHead.output)
        let tokens = [0, 1, 7, 300, 511, 7]
        #expect(try weights.embeddings(of: tokens) == source.embeddings(of: tokens))
    }

    @Test(
        "forward logits are finite and close to the float model's",
        arguments: ["tiny-llama", "tiny-llama-untied"], BitsAndBytesSetting.all)
    func forwardIsClose(model: String, setting: BitsAndBytesSetting) throws {
        let temp = try TemporaryDirectory()
        let weights = try CheckpointWeights(contentsOf: try quantized(model, setting, in: temp))
        let source = try CheckpointWeights(contentsOf: fixturesDirectory.appendingPathComponent(model))
        let tokens = (0..<24).map { ($0 * 53 + 5) % 512 }
        let logits = try LlamaModel(configuration: weights.configuration, source: weights, threads: 1)
            .forward(tokens: tokens).values
        let reference = try LlamaModel(configuration: source.configuration, source: source, threads: 1)
            .forward(tokens: tokens).values
        #expect(logits.allSatisfy { $0.isFinite })
        var weightDifference: [Float] = [], weightReference: [Float] = []
        for index in 0..<weights.configuration.layerCount {
            let a = try weights.layerWeights(at: index), b = try source.layerWeights(at: index)
            for (x, y) in zip(Self.matrices(a), Self.matrices(b)) {
                weightDifference += zip(x.values, y.values).map { $0 - $1 }
                weightReference += y.values
            }
        }
        // The logits move by a few times the weights' own relative quantization error (measured ≈ 3×:
        // 4-bit weights ≈ 0.09–0.13 → logits ≈ 0.26–0.42; LLM.int8 ≈ 0.006 → ≈ 0.018); a wrong row order or
        // scale gives ≈ 1.
        let logitError = relativeRMS(zip(logits, reference).map { $0 - $1 }, reference)
        let weightError = relativeRMS(weightDifference, weightReference)
        #expect(weightError > 0 && weightError < (setting.type == "int8" ? 0.01 : 0.15))
        #expect(logitError > 0 && logitError < 5 * weightError, "logits \(logitError), weights \(weightError)")
    }

    /// The seven linear weights of a block, in ``linears`` order.
    private static func matrices(_ layer: LlamaLayerWeights) -> [Matrix] {
        [layer.query, layer.key, layer.value, layer.attentionOutput, layer.gate, layer.up, layer.down]
    }

    /// `‖difference‖ / ‖reference‖`.
    private func relativeRMS(_ difference: [Float], _ reference: [Float]) -> Double {
        let squares = { (values: [Float]) in values.map { Double($0) * Double($0) }.reduce(0, +) }
        return (squares(difference) / squares(reference)).squareRoot()
    }

    @Test("a wrong quant_map is reported when opening, naming the shard and the key")
    func wrongQuantMap() throws {
        let temp = try TemporaryDirectory()
        let directory = try quantized("tiny-llama", BitsAndBytesSetting.all[0], in: temp)
        let key = "model.layers.1.mlp.up_proj.weight.quant_map"
        let shard = directory.appendingPathComponent("model.safetensors")
        try rewriteShard(shard, replacing: [key: littleEndianBytes(Array(repeating: 0.5, count: 16))])
        do {
            _ = try CheckpointWeights(contentsOf: directory)
            Issue.record("expected an error")
        } catch CheckpointError.invalidQuantizedTensor(let path, let tensor, let reason) {
            #expect(path == shard.path && tensor == key && reason.contains("nf4 table"))
        }
    }

    @Test("a NaN LLM.int8 scale is reported when opening, naming the shard and the key")
    func nonFiniteScale() throws {
        let temp = try TemporaryDirectory()
        let directory = try quantized("tiny-llama-untied", BitsAndBytesSetting.all[4], in: temp)
        let key = "model.layers.0.self_attn.v_proj.SCB"
        let checkpoint = try SafeTensorsCheckpoint(directory: directory)
        let (file, info) = try #require(checkpoint.locate(key))
        try rewriteShard(
            file.url, replacing: [key: littleEndianBytes(Array(repeating: .nan, count: info.shape[0]))])
        #expect(
            throws: CheckpointError.invalidQuantizedTensor(
                path: file.url.path, tensor: key, reason: "bitsandbytes `SCB` holds a NaN or infinite value")
        ) { try CheckpointWeights(contentsOf: directory) }
    }

    @Test("a missing statistics key is reported when opening, naming the key")
    func missingAbsmax() throws {
        let temp = try TemporaryDirectory()
        let directory = try quantized("tiny-llama", BitsAndBytesSetting.all[1], in: temp)
        let key = "model.layers.0.self_attn.k_proj.weight.absmax"
        try rewriteShard(directory.appendingPathComponent("model.safetensors"), replacing: [key: nil])
        do {
            _ = try CheckpointWeights(contentsOf: directory)
            Issue.record("expected an error")
        } catch CheckpointError.invalidQuantizedTensor(_, let tensor, let reason) {
            #expect(tensor == key && reason.contains("missing"))
        }
    }

    @Test("a quantization_config that is not bitsandbytes is rejected, naming config.json")
    func otherQuantizationMethod() throws {
        let temp = try TemporaryDirectory()
        let directory = try quantized("tiny-llama", BitsAndBytesSetting.all[0], in: temp)
        let config = directory.appendingPathComponent("config.json")
        let text = try String(contentsOf: config, encoding: .utf8)
        try text.replacingOccurrences(of: #""quant_method": "bitsandbytes""#, with: #""quant_method": "gptq""#)
            .write(to: config, atomically: true, encoding: .utf8)
        #expect(
            throws: CheckpointError.invalidField(
                path: config.path, key: "quantization_config.quant_method", expected: "\"bitsandbytes\"")
        ) { try CheckpointWeights(contentsOf: directory) }
    }
}
