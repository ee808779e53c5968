// SPDX-License-Identifier: Apache-2.0
import QuailKit
import Testing

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
        #expect(LlamaTensorNames.hfName(forGGUF: "blk.0.attn_q.bias") == nil)
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
