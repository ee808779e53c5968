// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import TensorCore
import Transformer

/// A seeded random llama for the tests, plus a naive per-token forward pass written directly from the
/// transformers `LlamaForCausalLM` equations (scalar loops, no BLAS, `Foundation.exp`).
struct TinyModel {
    let configuration: LlamaConfiguration
    let weights: InMemoryWeights

    init(
        seed: UInt64, hidden: Int = 32, intermediate: Int = 48, layers: Int = 2, heads: Int = 4, kvHeads: Int = 2,
        vocab: Int = 61, tied: Bool = false, theta: Float = 10_000, biased: Bool = false
    ) {
        var rng = SplitMix64(seed: seed)
        let hd = hidden / heads
        configuration = LlamaConfiguration(
            hiddenSize: hidden, intermediateSize: intermediate, layerCount: layers, headCount: heads,
            kvHeadCount: kvHeads, headDim: hd, vocabSize: vocab, rmsNormEpsilon: 1e-5, ropeTheta: theta,
            tiedEmbeddings: tied, queryKeyValueBias: biased)
        func matrix(_ rows: Int, _ columns: Int, scale: Double) -> Matrix {
            Matrix(
                rows: rows, columns: columns,
                values: (0..<rows * columns).map { _ in Float(rng.nextGaussian() * scale) })
        }
        func gain(_ count: Int) -> [Float] { (0..<count).map { _ in Float(1 + 0.1 * rng.nextGaussian()) } }
        let embedding = matrix(vocab, hidden, scale: 1)
        let s = 1 / Double(hidden).squareRoot()
        let layerWeights = (0..<layers).map { _ in
            LlamaLayerWeights(
                attentionNorm: gain(hidden), query: matrix(heads * hd, hidden, scale: s),
                key: matrix(kvHeads * hd, hidden, scale: s), value: matrix(kvHeads * hd, hidden, scale: s),
                attentionOutput: matrix(hidden, heads * hd, scale: s), feedForwardNorm: gain(hidden),
                gate: matrix(intermediate, hidden, scale: s), up: matrix(intermediate, hidden, scale: s),
                down: matrix(hidden, intermediate, scale: 1 / Double(intermediate).squareRoot()),
                queryKeyValueBias: biased ? matrix(1, (heads + 2 * kvHeads) * hd, scale: 0.5).values : nil)
        }
        let head = LlamaHeadWeights(
            outputNorm: gain(hidden), output: tied ? embedding : matrix(vocab, hidden, scale: s))
        weights = InMemoryWeights(embedding: embedding, layers: layerWeights, head: head)
    }

    func tokens(_ count: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Int(rng.next() % UInt64(configuration.vocabSize)) }
    }

    func model(_ residency: WeightResidency = .resident, threads: Int = 2) -> LlamaModel<InMemoryWeights> {
        LlamaModel(configuration: configuration, source: weights, residency: residency, threads: threads)
    }

    // MARK: - Naive reference

    /// Logits `(T, V)` computed token by token with scalar loops.
    func naiveLogits(_ tokens: [Int]) -> [[Float]] {
        let c = configuration
        var x = tokens.map { Array(weights.embedding.values[$0 * c.hiddenSize..<($0 + 1) * c.hiddenSize]) }
        for w in weights.layers {
            let normed = x.map { Self.rmsNorm($0, w.attentionNorm, c.rmsNormEpsilon) }
            let bias = w.queryKeyValueBias ?? [Float](repeating: 0, count: c.queryWidth + 2 * c.keyValueWidth)
            func biased(_ x: [Float], from offset: Int) -> [Float] {
                zip(x, bias[offset..<offset + x.count]).map { $0 + $1 }
            }
            let q = normed.enumerated().map {
                Self.rope(biased(Self.matvec(w.query, $1), from: 0), position: $0, c)
            }
            let k = normed.enumerated().map {
                Self.rope(biased(Self.matvec(w.key, $1), from: c.queryWidth), position: $0, c)
            }
            let v = normed.map { biased(Self.matvec(w.value, $0), from: c.queryWidth + c.keyValueWidth) }
            for t in 0..<tokens.count {
                var heads = [Float](repeating: 0, count: c.queryWidth)
                for h in 0..<c.headCount {
                    let g = h / c.headsPerKeyValueHead
                    let qh = q[t][h * c.headDim..<(h + 1) * c.headDim]
                    let scores = (0...t).map { s in
                        zip(qh, k[s][g * c.headDim..<(g + 1) * c.headDim]).reduce(0) { $0 + $1.0 * $1.1 }
                            / Float(c.headDim).squareRoot()
                    }
                    let m = scores.max() ?? 0
                    let e = scores.map { Foundation.exp($0 - m) }
                    let total = e.reduce(0, +)
                    for s in 0...t {
                        for d in 0..<c.headDim { heads[h * c.headDim + d] += e[s] / total * v[s][g * c.headDim + d] }
                    }
                }
                let o = Self.matvec(w.attentionOutput, heads)
                for i in 0..<c.hiddenSize { x[t][i] += o[i] }
            }
            for t in 0..<tokens.count {
                let n = Self.rmsNorm(x[t], w.feedForwardNorm, c.rmsNormEpsilon)
                let gate = Self.matvec(w.gate, n)
                let up = Self.matvec(w.up, n)
                let product = zip(gate, up).map { g, u in g / (1 + Foundation.exp(-g)) * u }
                let d = Self.matvec(w.down, product)
                for i in 0..<c.hiddenSize { x[t][i] += d[i] }
            }
        }
        return x.map { Self.matvec(weights.head.output, Self.rmsNorm($0, weights.head.outputNorm, c.rmsNormEpsilon)) }
    }

    static func matvec(_ m: Matrix, _ x: [Float]) -> [Float] {
        (0..<m.rows).map { r in (0..<m.columns).reduce(Float(0)) { $0 + m[r, $1] * x[$1] } }
    }

    static func rmsNorm(_ x: [Float], _ w: [Float], _ eps: Float) -> [Float] {
        let mean = x.reduce(0) { $0 + $1 * $1 } / Float(x.count)
        let scale = 1 / (mean + eps).squareRoot()
        return zip(x, w).map { $0 * scale * $1 }
    }

    /// Rotate-half RoPE on every head of `x` at `position`.
    static func rope(_ x: [Float], position: Int, _ c: LlamaConfiguration) -> [Float] {
        var out = x
        let half = c.headDim / 2
        for h in 0..<(x.count / c.headDim) {
            for i in 0..<half {
                let angle = Double(position) / pow(Double(c.ropeTheta), Double(2 * i) / Double(c.headDim))
                let a = x[h * c.headDim + i]
                let b = x[h * c.headDim + i + half]
                out[h * c.headDim + i] = a * Float(cos(angle)) - b * Float(sin(angle))
                out[h * c.headDim + i + half] = b * Float(cos(angle)) + a * Float(sin(angle))
            }
        }
        return out
    }
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
