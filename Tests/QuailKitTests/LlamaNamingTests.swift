// SPDX-License-Identifier: Apache-2.0
import GGUF
import QuailKit
import Testing
import Transformer

@Suite("Llama tensor names and Q/K permutation")
struct LlamaNamingTests {
    @Test("every HF name maps to a GGUF name and back")
    func namesRoundTrip() throws {
        let json = try JSONValue(parsing: Data(contentsOf: fixturesDirectory.appendingPathComponent("tiny-llama-untied/config.json")))
        let hparams = try LlamaHyperparameters(configJSON: json, path: "config.json")
        let names = LlamaTensorNames.expectedHFNames(for: hparams)
        #expect(names.count == 3 + 9 * hparams.layerCount)
        for name in names {
            let gguf = try #require(LlamaTensorNames.ggufName(forHF: name))
            #expect(LlamaTensorNames.hfName(forGGUF: gguf) == name)
        }
        #expect(LlamaTensorNames.ggufName(forHF: "model.layers.3.self_attn.k_proj.weight") == "blk.3.attn_k.weight")
        #expect(LlamaTensorNames.ggufName(forHF: "model.layers.03.self_attn.k_proj.weight") == nil)
        #expect(LlamaTensorNames.hfName(forGGUF: "blk.0.attn_q.bias") == "model.layers.0.self_attn.q_proj.bias")
        #expect(!names.contains("model.layers.0.self_attn.q_proj.bias"))  // llama has no biases
        #expect(LlamaTensorNames.hfName(forGGUF: "blk.0.attn_output.bias") == nil)
    }

    @Test("rope_scaling: llama3 bands, linear in GGUF keys and back, other types refused")
    func ropeScaling() throws {
        let json = try JSONValue(parsing: Data(contentsOf: fixturesDirectory.appendingPathComponent("tiny-llama-untied/config.json")))
        guard case .object(let pairs) = json else { throw CheckpointError.invalidJSON(path: "", reason: "") }
        func config(_ scaling: String) throws -> LlamaHyperparameters {
            let value = try JSONValue(parsing: Data(scaling.utf8))
            return try LlamaHyperparameters(
                configJSON: .object(pairs.filter { $0.0 != "rope_scaling" } + [("rope_scaling", value)]), path: "c.json")
        }
        let llama3 = try config(
            #"{"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64, "rope_type": "llama3"}"#)
        // head_dim 8, θ 10000: wavelengths 2π·10^i, bands at 64/4 = 16 and 64/1 = 64
        guard case .frequencyDivisors(let divisors) = llama3.rotaryScaling else {
            Issue.record("llama3 gives divisors")
            return
        }
        let smooth = (64 / (2 * Double.pi * 10) - 1) / 3
        #expect(divisors[0] == 1 && divisors[2] == 8 && divisors[3] == 8)
        #expect(abs(divisors[1] - 1 / ((1 - smooth) / 8 + smooth)) < 1e-12)
        #expect(llama3.configJSON(torchDType: "float32")["rope_scaling"] == llama3.ropeScaling?.configJSON)
        let linear = try config(#"{"type": "linear", "factor": 2.0}"#)
        #expect(linear.ropeScaling == .linear(factor: 2))
        var metadata = GGUFMetadata()
        for (key, value) in linear.ggufEntries(fileType: 0) { metadata[key] = value }
        #expect(metadata["llama.rope.scaling.type"] == .string("linear"))
        #expect(try LlamaHyperparameters(metadata: metadata, hasOutputTensor: true, path: "m.gguf").ropeScaling == .linear(factor: 2))
        #expect(try config("null").ropeScaling == nil && config(#"{"rope_type": "default"}"#).ropeScaling == nil)
        #expect(throws: CheckpointError.self) { try config(#"{"rope_type": "yarn", "factor": 4.0}"#) }
        #expect(throws: CheckpointError.self) { try config(#"{"rope_type": "dynamic", "factor": -1}"#) }
    }

    @Test("Qwen2: q/k/v biases, qwen2.* GGUF keys as llama.cpp's Qwen2Model writes them, no q/k permutation")
    func qwen2() throws {
        var config = try JSONValue(parsing: Data(contentsOf: fixturesDirectory.appendingPathComponent("tiny-llama/config.json")))
        guard case .object(var pairs) = config else { throw CheckpointError.invalidJSON(path: "", reason: "") }
        pairs = pairs.map { $0.0 == "model_type" ? ("model_type", .string("qwen2")) : $0 }
        config = .object(pairs)
        let hparams = try LlamaHyperparameters(configJSON: config, path: "config.json")
        #expect(hparams.hasQueryKeyValueBias && !hparams.permutesQueryKey && hparams.ggufArchitecture == "qwen2")
        let names = LlamaTensorNames.expectedHFNames(for: hparams)
        #expect(names.count == 2 + 12 * hparams.layerCount)  // tied: no lm_head
        #expect(names.contains("model.layers.1.self_attn.v_proj.bias"))
        #expect(
            LlamaTensorNames.expectedShape(of: .keyBias, for: hparams) == [hparams.kvHeadCount * hparams.headDim])
        let entries = hparams.ggufEntries(fileType: 0)
        #expect(entries.first?.1 == .string("qwen2"))
        #expect(entries.dropFirst(2).allSatisfy { $0.0.hasPrefix("qwen2.") || $0.0 == "general.file_type" })
        #expect(!entries.contains { $0.0 == "qwen2.vocab_size" || $0.0 == "qwen2.rope.dimension_count" })
        var metadata = GGUFMetadata()
        for (key, value) in entries { metadata[key] = value }
        metadata["qwen2.vocab_size"] = .uint32(UInt32(hparams.vocabSize))
        let read = try LlamaHyperparameters(metadata: metadata, hasOutputTensor: false, path: "m.gguf")
        #expect(read.modelType == "qwen2" && read.ropeTheta == hparams.ropeTheta && read.headCount == hparams.headCount)
        let written = hparams.configJSON(torchDType: "float32")
        #expect(written["architectures"] == .array([.string("Qwen2ForCausalLM")]))
        #expect(written["attention_bias"] == nil && written["use_sliding_window"] == .bool(false))
        #expect(try LlamaHyperparameters(configJSON: written, path: "config.json") == hparams)
        pairs.append(("use_sliding_window", .bool(true)))
        #expect(throws: CheckpointError.self) { try LlamaHyperparameters(configJSON: .object(pairs), path: "c.json") }
    }

    @Test("natural order puts layer 2 before layer 10 and embeddings first, as llama.cpp's converter does")
    func naturalOrder() {
        let sorted = LlamaTensorNames.naturallySorted([
            "model.norm.weight", "model.layers.10.mlp.up_proj.weight", "model.layers.2.mlp.up_proj.weight",
            "model.embed_tokens.weight",
        ])
        #expect(sorted == [
            "model.embed_tokens.weight", "model.layers.2.mlp.up_proj.weight", "model.layers.10.mlp.up_proj.weight",
            "model.norm.weight",
        ])
    }

    @Test("the permutation interleaves the two halves of each head and its inverse restores them")
    func permutation() {
        // 2 heads of dimension 4, one byte per row: HF rows 0...7.
        let hf: [UInt8] = Array(0..<8)
        var gguf = [UInt8](repeating: 0, count: 8)
        var back = [UInt8](repeating: 0, count: 8)
        hf.withUnsafeBytes { source in
            gguf.withUnsafeMutableBytes {
                QKPermutation.permuteRows(source, into: $0, heads: 2, rowByteCount: 1, direction: .hfToGGUF)
            }
        }
        #expect(gguf == [0, 2, 1, 3, 4, 6, 5, 7])
        gguf.withUnsafeBytes { source in
            back.withUnsafeMutableBytes {
                QKPermutation.permuteRows(source, into: $0, heads: 2, rowByteCount: 1, direction: .ggufToHF)
            }
        }
        #expect(back == hf)
    }
}

import Foundation
