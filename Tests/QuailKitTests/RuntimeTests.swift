// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import QuailKit
import TensorCore
import Testing
import Transformer

/// The repository's fixtures directory.
private let runtimeFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("fixtures")

/// A fresh temporary directory, removed by the caller.
private func scratchDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("quail-runtime-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("Runtime")
struct RuntimeTests {
    @Test("perplexity of uniform logits is the vocabulary size; a 3:1 pair scores −log(3/4)")
    func accumulatorArithmetic() {
        var uniform = PerplexityAccumulator()
        let zeros = [Float](repeating: 0, count: 50)
        zeros.withUnsafeBufferPointer { uniform.add(logits: $0, target: 7) }
        zeros.withUnsafeBufferPointer { uniform.add(logits: $0, target: 49) }
        #expect(abs(uniform.perplexity - 50) < 1e-9)
        #expect(uniform.standardError == nil)  // zero variance

        var pair = PerplexityAccumulator()
        let logits: [Float] = [0, Float(Foundation.log(3.0))]
        logits.withUnsafeBufferPointer { pair.add(logits: $0, target: 1) }
        logits.withUnsafeBufferPointer { pair.add(logits: $0, target: 0) }
        #expect(pair.count == 2)
        #expect(abs(pair.negativeLogLikelihood - (-Foundation.log(0.75) - Foundation.log(0.25))) < 1e-6)
        #expect((pair.standardError ?? 0) > 0)

        var threaded = PerplexityAccumulator()
        let matrix = Matrix(rows: 2, columns: 2, values: logits + logits)
        threaded.add(logits: matrix, targets: [1, 0], threads: 2)
        #expect(abs(threaded.negativeLogLikelihood - pair.negativeLogLikelihood) < 1e-12)
    }

    @Test("a vocabulary-sized row scores like a double-precision log-softmax, whatever the length's tail")
    func accumulatorMatchesDoubleLogSoftmax() {
        var rng = SplitMix64(seed: 11)
        for length in [16, 1024, 3 * 1024 + 37] {
            let logits = (0..<length).map { _ in Float(rng.nextGaussian() * 4) }
            let target = length / 3
            var accumulator = PerplexityAccumulator()
            logits.withUnsafeBufferPointer { accumulator.add(logits: $0, target: target) }
            let maximum = Double(logits.max() ?? 0)
            let sum = logits.reduce(0.0) { $0 + Foundation.exp(Double($1) - maximum) }
            let expected = maximum + Foundation.log(sum) - Double(logits[target])
            #expect(abs(accumulator.negativeLogLikelihood - expected) < 1e-5)
        }
    }

    @Test(
        "GGUF weights decode to the HF layout: q/k rows unpermuted, every tensor equal",
        arguments: [
            "tiny-llama", "tiny-llama-f16",
        ])
    func ggufDecodesToHFLayout(model: String) throws {
        let temp = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: temp) }
        let hfURL = runtimeFixtures.appendingPathComponent(model)
        let ggufURL = temp.appendingPathComponent("model.gguf")
        _ = try CheckpointConverter.convert(from: hfURL, to: ggufURL)
        let hf = try CheckpointWeights(contentsOf: hfURL)
        let gguf = try CheckpointWeights(contentsOf: ggufURL)
        #expect(hf.format == .hfDirectory && gguf.format == .ggufFile)
        #expect(hf.configuration == gguf.configuration)
        for index in 0..<hf.configuration.layerCount {
            let a = try hf.layerWeights(at: index)
            let b = try gguf.layerWeights(at: index)
            #expect(a.query == b.query && a.key == b.key && a.value == b.value)
            #expect(a.attentionOutput == b.attentionOutput && a.gate == b.gate && a.up == b.up && a.down == b.down)
            #expect(a.attentionNorm == b.attentionNorm && a.feedForwardNorm == b.feedForwardNorm)
        }
        #expect(try hf.headWeights().output == gguf.headWeights().output)
        #expect(try hf.embeddings(of: [3, 0, 511]) == gguf.embeddings(of: [3, 0, 511]))
        let output = try gguf.headWeights().output
        let rows = try gguf.outputRows(100..<300)
        #expect(rows.rows == 200 && rows.values == Array(output.values[100 * output.columns..<300 * output.columns]))
        #expect(try hf.outputRows(500..<512) == gguf.outputRows(500..<512))
        #expect(try gguf.outputNorm() == gguf.headWeights().outputNorm)
    }

    @Test("BOS replaces the first token of every chunk and never changes the scored targets")
    func bosReplacement() throws {
        let weights = try CheckpointWeights(contentsOf: runtimeFixtures.appendingPathComponent("tiny-llama-untied"))
        let tokens = (0..<200).map { ($0 * 37 + 11) % 512 }
        let options = PerplexityEvaluation.Options(contextLength: 64, chunkLimit: 2, threadCount: 1)
        let withBOS = try PerplexityEvaluation.evaluate(
            weights, tokens: tokens, source: "ids", bos: BOSPolicy(addsBOS: true, bosID: 1), options: options)
        var replaced = tokens
        replaced[0] = 1
        replaced[64] = 1
        let manual = try PerplexityEvaluation.evaluate(
            weights, tokens: replaced, source: "ids", bos: BOSPolicy(addsBOS: false, bosID: 1), options: options)
        let plain = try PerplexityEvaluation.evaluate(
            weights, tokens: tokens, source: "ids", bos: BOSPolicy(addsBOS: false, bosID: 1), options: options)
        #expect(withBOS.chunkCount == 2 && withBOS.scoredTokenCount == 2 * 31)
        // (OpenBLAS's thread count is process-wide and other suites run concurrently: allow rounding-level noise.)
        #expect(abs(withBOS.perplexity / manual.perplexity - 1) < 1e-6)
        #expect(abs(withBOS.perplexity / plain.perplexity - 1) > 1e-4)
        #expect(withBOS.addsBOS && !plain.addsBOS)
    }

    @Test("bad inputs are rejected before any chunk runs")
    func badInputs() throws {
        let weights = try CheckpointWeights(contentsOf: runtimeFixtures.appendingPathComponent("tiny-llama"))
        let policy = BOSPolicy(addsBOS: false, bosID: nil)
        #expect(throws: EvaluationError.textTooShort(path: "t", tokens: 100, needed: 512)) {
            try PerplexityEvaluation.evaluate(weights, tokens: Array(0..<100), source: "t", bos: policy)
        }
        #expect(throws: EvaluationError.tokenOutOfRange(path: "t", index: 3, token: 900, vocabularySize: 512)) {
            try PerplexityEvaluation.evaluate(
                weights, tokens: [1, 2, 3, 900] + Array(repeating: 5, count: 600), source: "t", bos: policy)
        }
        #expect(throws: EvaluationError.contextTooSmall(contextLength: 2, minimum: 3)) {
            try PerplexityEvaluation.evaluate(
                weights, tokens: Array(0..<10), source: "t", bos: policy, options: .init(contextLength: 2))
        }
        let single = runtimeFixtures.appendingPathComponent("tiny-llama/model.safetensors")
        #expect(throws: EvaluationError.unsupportedInput(path: single.path)) {
            try CheckpointWeights(contentsOf: single)
        }
        let temp = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: temp) }
        let file = temp.appendingPathComponent("ids.json")
        try Data("[1, 2, -3]".utf8).write(to: file)
        #expect(
            throws: EvaluationError.invalidTokenFile(path: file.path, reason: "item 2 is not a non-negative integer")
        ) {
            try TextTokenization.tokens(ofTokenFileAt: file)
        }
        try Data("[]".utf8).write(to: file)
        #expect(throws: EvaluationError.emptyText(path: file.path)) { try TextTokenization.tokens(ofTokenFileAt: file) }
    }

    @Test("activation dumps are .npy files with 64-byte aligned headers and the shapes of the model")
    func dumpFiles() throws {
        let temp = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: temp) }
        let weights = try CheckpointWeights(contentsOf: runtimeFixtures.appendingPathComponent("tiny-llama-f16"))
        let directory = temp.appendingPathComponent("dump")
        let files = try ActivationDump.write(weights, tokens: [1, 2, 3, 4, 5], source: "ids", to: directory)
        #expect(
            files == [
                "hidden-00.npy", "hidden-01.npy", "hidden-02.npy", "hidden-03.npy", "final-norm.npy", "logits.npy",
            ])
        let logits = try Data(contentsOf: directory.appendingPathComponent("logits.npy"))
        #expect(logits.prefix(8) == Data([0x93] + Array("NUMPY".utf8) + [1, 0]))
        let headerLength = Int(logits[8]) | Int(logits[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: logits[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.contains("'shape': (5, 512)") && header.hasSuffix("\n"))
        #expect(logits.count == 10 + headerLength + 5 * 512 * 4)
        #expect(throws: (any Error).self) {
            try ActivationDump.write(weights, tokens: [1], source: "ids", to: directory)  // exists, no overwrite
        }
    }
}
