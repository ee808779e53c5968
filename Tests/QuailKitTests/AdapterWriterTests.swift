// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import LinearAlgebra
import LowRankInit
import QuailKit
import TensorCore
import Testing

private func fixtureHyperparameters(_ name: String) throws -> LlamaHyperparameters {
    let url = fixturesDirectory.appendingPathComponent(name).appendingPathComponent("config.json")
    return try LlamaHyperparameters(configJSON: JSONValue(parsing: Data(contentsOf: url)), path: url.path)
}

private func gaussian(_ rows: Int, _ columns: Int, _ rng: inout SplitMix64) -> Matrix {
    Matrix(rows: rows, columns: columns, values: (0..<rows * columns).map { _ in Float(rng.nextGaussian() * 0.3) })
}

private let linears = [
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
    "mlp.down_proj",
]

/// Random factors for every linear of every block (or the given linears only).
private func randomFactors(
    _ h: LlamaHyperparameters, rank: Int, seed: UInt64, linears: [String] = linears
) -> [String: LowRankFactors] {
    var rng = SplitMix64(seed: seed)
    var factors: [String: LowRankFactors] = [:]
    for block in 0..<h.layerCount {
        for linear in linears {
            let name = "model.layers.\(block).\(linear).weight"
            let (out, width): (Int, Int) =
                switch linear {
                case "self_attn.q_proj": (h.headCount * h.headDim, h.hiddenSize)
                case "self_attn.k_proj", "self_attn.v_proj": (h.kvHeadCount * h.headDim, h.hiddenSize)
                case "self_attn.o_proj": (h.hiddenSize, h.headCount * h.headDim)
                case "mlp.down_proj": (h.hiddenSize, h.intermediateSize)
                default: (h.intermediateSize, h.hiddenSize)
                }
            factors[name] = LowRankFactors(a: gaussian(rank, width, &rng), b: gaussian(out, rank, &rng))
        }
    }
    return factors
}

private func bits(_ m: Matrix) -> [UInt32] { m.values.map(\.bitPattern) }

private func fileBytes(_ url: URL) throws -> Data { try Data(contentsOf: url) }

@Suite("LoRA adapter writers")
struct AdapterWriterTests {
    @Test(
        "PEFT and llama.cpp GGUF adapters read back bit-identical factors and scale on GQA 4/2 and 4/1 fixtures",
        arguments: [("tiny-llama", LoRAScalingRule.standard), ("tiny-llama-f16", .rankStabilized)])
    func roundTrip(fixture: String, scaling: LoRAScalingRule) throws {
        let h = try fixtureHyperparameters(fixture)
        let contents = LoRAAdapterContents(
            factors: randomFactors(h, rank: 4, seed: 11), rank: 4, alpha: 12, scaling: scaling)
        let directory = try TemporaryDirectory()
        let peftURL = directory.path("peft")
        let ggufURL = directory.path("adapter.gguf")
        try PEFTAdapterWriter.write(contents, to: peftURL, for: h, baseModel: "fixtures/\(fixture)")
        try LlamaCppAdapterWriter.write(contents, to: ggufURL, for: h, name: fixture)

        let peft = try LoRAAdapter(contentsOf: peftURL, for: h)
        let gguf = try LoRAAdapter(contentsOf: ggufURL, for: h)
        #expect(peft.format == .peft)
        #expect(gguf.format == .gguf)
        #expect(peft.weightNames == contents.weightNames)
        #expect(gguf.weightNames == contents.weightNames)
        #expect(contents.weightNames.count == 7 * h.layerCount)
        let expectedScale = Float(scaling == .standard ? 12.0 / 4 : 12.0 / 2)
        for name in contents.weightNames {
            let factors = try #require(contents.factors[name])
            for adapter in [peft, gguf] {
                let update = try #require(adapter.updates[name])
                #expect(bits(update.a) == bits(factors.a), "\(name) \(adapter.format)")
                #expect(bits(update.b) == bits(factors.b), "\(name) \(adapter.format)")
                #expect(update.scale.bitPattern == expectedScale.bitPattern, "\(name) \(adapter.format)")
            }
        }
    }

    @Test("GGUF lora_b of q/k holds HF row h·hd + s·hd/2 + i at row h·hd + 2i + s; lora_a and v are unpermuted")
    func ggufRowOrder() throws {
        let h = try fixtureHyperparameters("tiny-llama")
        let factors = randomFactors(h, rank: 3, seed: 5)
        let directory = try TemporaryDirectory()
        let url = directory.path("adapter.gguf")
        try LlamaCppAdapterWriter.write(
            LoRAAdapterContents(factors: factors, rank: 3, alpha: 3), to: url, for: h)
        let file = try GGUFFile(contentsOf: url)
        func stored(_ name: String) throws -> [Float] {
            let info = try #require(file[name])
            #expect(info.type == .f32)
            return Array(try file.bytes(of: info).bindMemory(to: Float.self))
        }
        for (linear, base, heads) in [
            ("self_attn.q_proj", "attn_q", h.headCount), ("self_attn.k_proj", "attn_k", h.kvHeadCount),
            ("self_attn.v_proj", "attn_v", 1),
        ] {
            let pair = try #require(factors["model.layers.1.\(linear).weight"])
            let b = try stored("blk.1.\(base).weight.lora_b")
            let a = try stored("blk.1.\(base).weight.lora_a")
            #expect(file["blk.1.\(base).weight.lora_b"]?.dimensions == [3, pair.b.rows])
            #expect(file["blk.1.\(base).weight.lora_a"]?.dimensions == [pair.a.columns, 3])
            #expect(a.map(\.bitPattern) == bits(pair.a))
            var expected = pair.b.values
            if linear != "self_attn.v_proj" {
                let headDim = pair.b.rows / heads
                for head in 0..<heads {
                    for i in 0..<headDim / 2 {
                        for s in 0..<2 {
                            let ggufRow = head * headDim + 2 * i + s
                            let hfRow = head * headDim + s * headDim / 2 + i
                            for c in 0..<3 { expected[ggufRow * 3 + c] = pair.b[hfRow, c] }
                        }
                    }
                }
                #expect(expected != pair.b.values)
            }
            #expect(b.map(\.bitPattern) == expected.map(\.bitPattern), "\(linear)")
        }
    }

    @Test("metadata: FLOAT32 alpha, general.type adapter, adapter.type lora; rsLoRA alpha gives PEFT's scale")
    func ggufMetadata() throws {
        let h = try fixtureHyperparameters("tiny-llama-f16")
        let directory = try TemporaryDirectory()
        let cases = [(4, 12.0, LoRAScalingRule.standard), (3, 7.0, .rankStabilized), (5, 0.1, .standard)]
        for (rank, alpha, scaling) in cases {
            let contents = LoRAAdapterContents(
                factors: randomFactors(h, rank: rank, seed: 2, linears: ["mlp.up_proj"]), rank: rank, alpha: alpha,
                scaling: scaling)
            let url = directory.path("a-\(rank).gguf")
            try LlamaCppAdapterWriter.write(contents, to: url, for: h)
            let file = try GGUFFile(contentsOf: url)
            #expect(
                file.metadata.keys == ["general.architecture", "general.type", "adapter.type", "adapter.lora.alpha"])
            #expect(file.metadata["general.architecture"] == .string("llama"))
            #expect(file.metadata["general.type"] == .string("adapter"))
            #expect(file.metadata["adapter.type"] == .string("lora"))
            guard case .float32(let stored) = file.metadata["adapter.lora.alpha"] else {
                Issue.record("alpha is not FLOAT32")
                continue
            }
            // llama.cpp: scale = alpha / rank in float32.
            #expect(stored / Float(rank) == contents.scale)
            if scaling == .standard { #expect(stored == Float(alpha)) }
        }
    }

    @Test("adapter_config.json: sorted keys, explicit sorted target_modules, rank, alpha, rsLoRA, base model")
    func peftConfig() throws {
        let h = try fixtureHyperparameters("tiny-llama")
        let directory = try TemporaryDirectory()
        let factors = randomFactors(h, rank: 2, seed: 3, linears: ["mlp.up_proj", "self_attn.q_proj", "mlp.down_proj"])
        for (label, base, scaling, alpha) in [
            ("a", "org/model", LoRAScalingRule.rankStabilized, 16.0), ("b", nil, .standard, 2.5),
        ] {
            let url = directory.path(label)
            try PEFTAdapterWriter.write(
                LoRAAdapterContents(factors: factors, rank: 2, alpha: alpha, scaling: scaling), to: url, for: h,
                baseModel: base)
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
                    == ["adapter_config.json", "adapter_model.safetensors"])
            let config = try JSONValue(parsing: fileBytes(url.appendingPathComponent("adapter_config.json")))
            let keys = try #require(config.objectValue).map(\.0)
            #expect(keys == keys.sorted())
            #expect(config["target_modules"] == .array([.string("down_proj"), .string("q_proj"), .string("up_proj")]))
            #expect(config["peft_type"] == .string("LORA"))
            #expect(config["task_type"] == .string("CAUSAL_LM"))
            #expect(config["r"] == .integer(2))
            #expect(config["lora_alpha"]?.doubleValue == alpha)
            #expect(config["use_rslora"] == .bool(scaling == .rankStabilized))
            #expect(config["base_model_name_or_path"] == (base.map(JSONValue.string) ?? .null))
            #expect(config["bias"] == .string("none"))
            #expect(config["use_dora"] == .bool(false))
            #expect(config["fan_in_fan_out"] == .bool(false))
            #expect(config["lora_dropout"] == .number(0))
        }
    }

    @Test("the same contents give the same bytes")
    func deterministic() throws {
        let h = try fixtureHyperparameters("tiny-llama")
        let contents = LoRAAdapterContents(factors: randomFactors(h, rank: 2, seed: 8), rank: 2, alpha: 4)
        let directory = try TemporaryDirectory()
        for label in ["x", "y"] {
            try PEFTAdapterWriter.write(contents, to: directory.path("peft-\(label)"), for: h, baseModel: nil)
            try LlamaCppAdapterWriter.write(contents, to: directory.path("\(label).gguf"), for: h)
        }
        #expect(try fileBytes(directory.path("x.gguf")) == fileBytes(directory.path("y.gguf")))
        for file in ["adapter_config.json", "adapter_model.safetensors"] {
            #expect(
                try fileBytes(directory.path("peft-x").appendingPathComponent(file))
                    == fileBytes(directory.path("peft-y").appendingPathComponent(file)))
        }
    }

    @Test("bad contents throw typed errors naming the destination and leave nothing there")
    func badContents() throws {
        let h = try fixtureHyperparameters("tiny-llama")
        var rng = SplitMix64(seed: 4)
        let good = randomFactors(h, rank: 2, seed: 9, linears: ["self_attn.q_proj"])
        var withNaN = good
        var poisoned = gaussian(2, h.hiddenSize, &rng)
        poisoned[1, 3] = .nan
        withNaN["model.layers.0.self_attn.q_proj.weight"] = LowRankFactors(
            a: poisoned, b: gaussian(h.headCount * h.headDim, 2, &rng))
        let wrongShape = ["model.layers.0.mlp.down_proj.weight": LowRankFactors(
            a: gaussian(2, h.hiddenSize, &rng), b: gaussian(h.hiddenSize, 2, &rng))]
        let cases: [(String, LoRAAdapterContents, (String) -> AdapterWriteError)] = [
            ("empty", .init(factors: [:], rank: 2, alpha: 2), { .emptyAdapter(path: $0) }),
            ("rank", .init(factors: good, rank: 0, alpha: 2), { .invalidRank(path: $0, rank: 0) }),
            ("alpha", .init(factors: good, rank: 2, alpha: -1), { .invalidAlpha(path: $0, alpha: -1) }),
            ("mismatch", .init(factors: good, rank: 3, alpha: 2), {
                .rankMismatch(path: $0, tensor: "model.layers.0.self_attn.q_proj.weight", expected: 3, actual: 2)
            }),
            (
                "embedding",
                .init(
                    factors: ["model.embed_tokens.weight": LowRankFactors(
                        a: gaussian(2, h.hiddenSize, &rng), b: gaussian(h.vocabSize, 2, &rng))], rank: 2, alpha: 2),
                { .unknownTarget(path: $0, tensor: "model.embed_tokens.weight") }
            ),
            (
                "layer",
                .init(
                    factors: ["model.layers.\(h.layerCount).mlp.up_proj.weight": LowRankFactors(
                        a: gaussian(2, h.hiddenSize, &rng), b: gaussian(h.intermediateSize, 2, &rng))], rank: 2,
                    alpha: 2),
                { .unknownTarget(path: $0, tensor: "model.layers.\(h.layerCount).mlp.up_proj.weight") }
            ),
            ("shape", .init(factors: wrongShape, rank: 2, alpha: 2), {
                .shapeMismatch(
                    path: $0, tensor: "model.layers.0.mlp.down_proj.weight",
                    expected: [h.hiddenSize, h.intermediateSize], actual: [h.hiddenSize, h.hiddenSize])
            }),
            ("nan", .init(factors: withNaN, rank: 2, alpha: 2), {
                .nonFiniteValue(
                    path: $0, tensor: "model.layers.0.self_attn.q_proj.weight", factor: "lora_A",
                    index: h.hiddenSize + 3)
            }),
        ]
        let directory = try TemporaryDirectory()
        for (label, contents, expected) in cases {
            let peftURL = directory.path("peft-\(label)")
            let ggufURL = directory.path("\(label).gguf")
            let peftError = #expect(throws: AdapterWriteError.self) {
                try PEFTAdapterWriter.write(contents, to: peftURL, for: h, baseModel: nil)
            }
            let ggufError = #expect(throws: AdapterWriteError.self) {
                try LlamaCppAdapterWriter.write(contents, to: ggufURL, for: h)
            }
            #expect(peftError == expected(peftURL.path), "\(label)")
            #expect(ggufError == expected(ggufURL.path), "\(label)")
            #expect(peftError?.description.contains(peftURL.path) == true)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).isEmpty)
    }

    @Test("an existing destination is kept unless overwrite is set; a missing parent fails cleanly")
    func existingAndUnwritableDestinations() throws {
        let h = try fixtureHyperparameters("tiny-llama")
        let contents = LoRAAdapterContents(
            factors: randomFactors(h, rank: 2, seed: 1, linears: ["mlp.gate_proj"]), rank: 2, alpha: 2)
        let directory = try TemporaryDirectory()
        let ggufURL = directory.path("a.gguf")
        let peftURL = directory.path("peft")
        try Data("keep".utf8).write(to: ggufURL)
        try FileManager.default.createDirectory(at: peftURL, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: peftURL.appendingPathComponent("marker"))
        #expect(throws: AdapterWriteError.self) { try LlamaCppAdapterWriter.write(contents, to: ggufURL, for: h) }
        #expect(throws: AdapterWriteError.self) {
            try PEFTAdapterWriter.write(contents, to: peftURL, for: h, baseModel: nil)
        }
        #expect(try fileBytes(ggufURL) == Data("keep".utf8))
        #expect(FileManager.default.fileExists(atPath: peftURL.appendingPathComponent("marker").path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).sorted() == ["a.gguf", "peft"])

        try LlamaCppAdapterWriter.write(contents, to: ggufURL, for: h, overwrite: true)
        try PEFTAdapterWriter.write(contents, to: peftURL, for: h, baseModel: nil, overwrite: true)
        #expect(try LoRAAdapter(contentsOf: ggufURL, for: h).updates.count == h.layerCount)
        #expect(try LoRAAdapter(contentsOf: peftURL, for: h).updates.count == h.layerCount)
        #expect(!FileManager.default.fileExists(atPath: peftURL.appendingPathComponent("marker").path))

        let missing = directory.path("no-such-dir")
        #expect(throws: AdapterWriteError.self) {
            try LlamaCppAdapterWriter.write(contents, to: missing.appendingPathComponent("a.gguf"), for: h)
        }
        #expect(throws: AdapterWriteError.self) {
            try PEFTAdapterWriter.write(contents, to: missing.appendingPathComponent("p"), for: h, baseModel: nil)
        }
        #expect(!FileManager.default.fileExists(atPath: missing.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).sorted() == ["a.gguf", "peft"])
    }
}
