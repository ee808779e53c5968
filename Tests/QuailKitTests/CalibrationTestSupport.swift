// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import QuailKit
import TensorCore
import Transformer

/// The fixture model the calibration and init tests run.
let tinyLlamaURL = fixturesDirectory.appendingPathComponent("tiny-llama")

/// The calibration text of the fixtures.
let calibrationTextURL = fixturesDirectory.appendingPathComponent("text/calibration.txt")

/// The small run the tests share: 6 samples × 32 tokens, seed 11.
let smallSampler = CalibrationSamplerSettings(samples: 6, sequenceLength: 32, seed: 11)

/// Calibration runs on the fixture, computed once per shard and shared by the tests.
final class FixtureCalibration: @unchecked Sendable {
    static let shared = FixtureCalibration()
    private let lock = NSLock()
    private var results: [String: CalibrationRun.Result] = [:]

    /// The run of `shard` of ``smallSampler`` on tiny-llama with calibration.txt.
    func result(shard: CalibrationShard = .whole) throws -> CalibrationRun.Result {
        lock.lock()
        defer { lock.unlock() }
        if let cached = results[shard.description] { return cached }
        let weights = try CheckpointWeights(contentsOf: tinyLlamaURL)
        let data = try CalibrationData(urls: [calibrationTextURL])
        let result = try CalibrationRun.run(
            weights, data: data, options: .init(sampler: smallSampler, shard: shard, threadCount: 1))
        results[shard.description] = result
        return result
    }
}

/// `Σ xᵀx` over row-major `(rows, columns)` activations, summed naively in float64.
func naiveGram(_ batches: [(rows: Int, columns: Int, values: [Float])]) -> DoubleMatrix {
    let n = batches[0].columns
    var h = [Double](repeating: 0, count: n * n)
    for batch in batches {
        precondition(batch.columns == n)
        for t in 0..<batch.rows {
            let row = batch.values[(t * n)..<((t + 1) * n)].map(Double.init)
            for i in 0..<n {
                for j in 0..<n { h[i * n + j] += row[i] * row[j] }
            }
        }
    }
    return DoubleMatrix(rows: n, columns: n, values: h)
}

/// `max |a − b| / max |b|` (0 when `b` is all zero and equal to `a`).
func relativeDifference(_ a: DoubleMatrix, _ b: DoubleMatrix) -> Double {
    precondition(a.rows == b.rows && a.columns == b.columns)
    let scale = b.values.map(abs).max() ?? 0
    let largest = zip(a.values, b.values).map { abs($0 - $1) }.max() ?? 0
    return scale > 0 ? largest / scale : largest
}

/// A provenance record with made-up digests for synthetic statistics files.
func syntheticProvenance(
    shard: String = "1/1", seed: UInt64 = 5, layers: Int = 1, modelDigest: String = "m0",
    tokenizerDigest: String = "t0", sequences: Int = 2, tokens: Int = 16
) throws -> CalibrationProvenance {
    CalibrationProvenance(
        modelDigest: modelDigest, tokenizerDigest: tokenizerDigest, dataDigest: "d0", dataFiles: ["a.txt", "b.jsonl"],
        field: "text", sampler: CalibrationSamplerSettings(samples: 4, sequenceLength: 8, seed: seed),
        shard: try CalibrationShard(parsing: shard), sequences: sequences, tokens: tokens, layers: layers)
}

/// Seeded Gram matrices for every block and group, with orders from `dimensions`.
func syntheticGrams(
    layers: Int, dimensions: [LinearGroup: Int], seed: UInt64, integral: Bool = false
) -> [GramKey: DoubleMatrix] {
    var generator = SplitMix64(seed: seed)
    var grams: [GramKey: DoubleMatrix] = [:]
    for layer in 0..<layers {
        for group in LinearGroup.allCases {
            let n = dimensions[group] ?? 3
            let values = (0..<(n * n)).map { _ in
                integral ? Double(generator.next() % 1000) : generator.nextGaussian() * 1e3
            }
            grams[GramKey(layer: layer, group: group)] = DoubleMatrix(rows: n, columns: n, values: values)
        }
    }
    return grams
}

/// The orders of the fixture's Gram matrices (hidden 64, 4 × 16 query heads, feed-forward 128).
let tinyLlamaDimensions: [LinearGroup: Int] = [
    .attentionInput: 64, .attentionOutput: 64, .feedForwardInput: 64, .feedForwardProduct: 128,
]
