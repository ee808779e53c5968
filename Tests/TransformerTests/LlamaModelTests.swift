// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra
import Testing

@testable import Transformer

@Suite("Llama forward pass")
struct LlamaModelTests {
    @Test(
        "chunked sgemm forward equals the naive per-token loops (MHA, GQA, MQA; tied and untied)",
        arguments: [(4, 4, false), (4, 2, true), (4, 1, false)])
    func matchesNaive(heads: Int, kvHeads: Int, tied: Bool) throws {
        let tiny = TinyModel(seed: UInt64(heads * 10 + kvHeads), heads: heads, kvHeads: kvHeads, tied: tied)
        // 150 tokens: more than one 128-row attention block.
        let tokens = tiny.tokens(150, seed: 2)
        let logits = try tiny.model().forward(tokens: tokens)
        #expect(logits.rows == tokens.count && logits.columns == tiny.configuration.vocabSize)
        let naive = tiny.naiveLogits(tokens)
        #expect(maxAbsDifference(logits.values, naive.flatMap { $0 }) < 1e-4)
    }

    @Test("q/k/v biases (Qwen2) are added before RoPE, as the naive loops do; weights must match the configuration")
    func queryKeyValueBias() throws {
        let tiny = TinyModel(seed: 21, heads: 4, kvHeads: 2, tied: true, biased: true)
        let tokens = tiny.tokens(90, seed: 5)
        let naive = tiny.naiveLogits(tokens).flatMap { $0 }
        for residency in [WeightResidency.resident, .streamed] {
            let logits = try tiny.model(residency).forward(tokens: tokens)
            #expect(maxAbsDifference(logits.values, naive) < 1e-4)
        }
        var unbiased = tiny.weights.layers[0]
        unbiased.queryKeyValueBias = nil
        #expect(tiny.weights.layers[0].matches(tiny.configuration))
        #expect(!unbiased.matches(tiny.configuration))
        var short = tiny.weights.layers[0]
        short.queryKeyValueBias?.removeLast()
        #expect(!short.matches(tiny.configuration))
    }

    @Test("a streamed pass reads the output projection in blocks of rows and gives the resident logits")
    func streamedOutputBlocks() throws {
        let tiny = TinyModel(seed: 13, vocab: 100, tied: false)
        let tokens = tiny.tokens(30, seed: 6)
        let resident = try tiny.model(.resident).forward(tokens: tokens, logitRows: 5..<29)
        let streamed = tiny.model(.streamed)
        streamed.outputBlockBytes = 4 * tiny.configuration.hiddenSize * 40  // blocks of 40, 40 and 20 rows
        let blocked = try streamed.forward(tokens: tokens, logitRows: 5..<29)
        #expect(blocked.rows == 24 && blocked.columns == 100)
        #expect(maxAbsDifference(blocked.values, resident.values) < 2e-5)
    }

    @Test("a later token never changes earlier logits")
    func causal() throws {
        let tiny = TinyModel(seed: 11)
        var tokens = tiny.tokens(140, seed: 3)
        let model = tiny.model()
        let before = try model.forward(tokens: tokens)
        tokens[135] = (tokens[135] + 1) % tiny.configuration.vocabSize
        let after = try model.forward(tokens: tokens)
        let width = tiny.configuration.vocabSize
        #expect(maxAbsDifference(Array(before.values[..<(135 * width)]), Array(after.values[..<(135 * width)])) < 1e-6)
        #expect(maxAbsDifference(Array(before.values[(135 * width)...]), Array(after.values[(135 * width)...])) > 1e-3)
    }

    @Test("logitRows selects rows of the full logits; streamed, resident, 1 and 3 threads agree")
    func logitRowsAndResidency() throws {
        let tiny = TinyModel(seed: 12, tied: true)
        let tokens = tiny.tokens(40, seed: 4)
        let full = try tiny.model(.streamed, threads: 1).forward(tokens: tokens)
        let threaded = try tiny.model(.streamed, threads: 3).forward(tokens: tokens)
        #expect(maxAbsDifference(full.values, threaded.values) < 2e-5)
        let resident = tiny.model(.resident)
        _ = try resident.forward(tokens: tokens)
        let part = try resident.forward(tokens: tokens, logitRows: 20..<39)
        let width = tiny.configuration.vocabSize
        #expect(part.rows == 19)
        #expect(maxAbsDifference(part.values, Array(full.values[20 * width..<39 * width])) < 2e-5)
    }

    @Test("the observer sees every linear input group of every layer and every hidden state, in order")
    func observerSeesEverything() throws {
        let tiny = TinyModel(seed: 13, layers: 3)
        let c = tiny.configuration
        let tokens = tiny.tokens(9, seed: 5)
        let recorder = Recorder()
        let observed = try tiny.model().forward(tokens: tokens, observer: recorder)
        let plain = try tiny.model().forward(tokens: tokens)
        #expect(observed == plain)
        let expected = (0..<3).flatMap { l in LinearGroup.allCases.map { "\(l).\($0.rawValue)" } }
        #expect(recorder.inputs.map(\.name) == expected)
        let widths = [c.hiddenSize, c.queryWidth, c.hiddenSize, c.intermediateSize]
        #expect(recorder.inputs.map(\.columns) == (0..<3).flatMap { _ in widths })
        #expect(recorder.inputs.allSatisfy { $0.values.count == 9 * $0.columns })
        #expect(recorder.stages == [.embeddings, .afterLayer(0), .afterLayer(1), .afterLayer(2), .finalNorm])
        // Layer 0's q/k/v input is the attention-normed embedding.
        let embedded = tiny.weights.embeddings(of: tokens)
        let w = tiny.weights.layers[0].attentionNorm
        let normed = (0..<9).flatMap { t in
            TinyModel.rmsNorm(Array(embedded.values[t * c.hiddenSize..<(t + 1) * c.hiddenSize]), w, c.rmsNormEpsilon)
        }
        #expect(maxAbsDifference(recorder.inputs[0].values, normed) < 1e-5)
    }
}

/// Copies what it observes.
private final class Recorder: ActivationObserving {
    var inputs: [(name: String, columns: Int, values: [Float])] = []
    var stages: [HiddenState.Stage] = []

    func observe(_ input: LinearInput) {
        inputs.append(("\(input.layer).\(input.group.rawValue)", input.columns, Array(input.values)))
    }

    func observe(_ state: HiddenState) {
        stages.append(state.stage)
    }
}
