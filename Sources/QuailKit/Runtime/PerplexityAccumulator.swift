// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import Transformer

/// Sums of negative log-likelihoods, as llama.cpp's `perplexity` keeps them (`nll`, `nll2`, `count`).
public struct PerplexityAccumulator: Equatable, Sendable {
    /// Σ −log p(target).
    public private(set) var negativeLogLikelihood: Double = 0
    /// Σ (−log p(target))².
    public private(set) var squaredNegativeLogLikelihood: Double = 0
    /// Scored tokens.
    public private(set) var count = 0

    /// An empty accumulator.
    public init() {}

    /// Scores one next-token prediction: `−log softmax(logits)[target]`.
    ///
    /// llama.cpp's `log_softmax` in tools/perplexity: the maximum in F32, `Σ exp(l − max)` and
    /// `nll = max + log(sum) − logits[target]` in double. The exponentials are the forward pass's vectorized `exp`
    /// (within 3 ulp of `expf`), summed in F32 lanes over runs of 1024 logits and the runs in double
    /// (``exponentialSum(_:)``). Traps if `target` is outside `logits`.
    public mutating func add(logits: UnsafeBufferPointer<Float>, target: Int) {
        precondition(target >= 0 && target < logits.count, "target outside the vocabulary")
        let (maximum, sum) = exponentialSum(logits)
        let nll = -(Double(logits[target] - maximum) - Foundation.log(sum))
        negativeLogLikelihood += nll
        squaredNegativeLogLikelihood += nll * nll
        count += 1
    }

    /// Scores row `i` of `logits` `(rows, V)` against `targets[i]`, rows spread over `threads` threads.
    ///
    /// Each thread sums its own rows and the partial sums are added in row order, so the result does not depend on
    /// the thread count beyond floating-point association of those few partial sums.
    public mutating func add(logits: Matrix, targets: [Int], threads: Int) {
        precondition(targets.count == logits.rows, "one target per row")
        let parts = max(1, min(threads, logits.rows))
        var partials = [PerplexityAccumulator](repeating: PerplexityAccumulator(), count: parts)
        logits.values.withUnsafeBufferPointer { all in
            partials.withUnsafeMutableBufferPointer { partials in
                let shared = SharedBuffers(logits: all, partials: partials)
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    for row in (logits.rows * part / parts)..<(logits.rows * (part + 1) / parts) {
                        let values = UnsafeBufferPointer(
                            rebasing: shared.logits[row * logits.columns..<(row + 1) * logits.columns])
                        shared.partials[part].add(logits: values, target: targets[row])
                    }
                }
            }
        }
        for partial in partials {
            negativeLogLikelihood += partial.negativeLogLikelihood
            squaredNegativeLogLikelihood += partial.squaredNegativeLogLikelihood
            count += partial.count
        }
    }

    /// `exp(mean nll)`.
    public var perplexity: Double { Foundation.exp(negativeLogLikelihood / Double(count)) }

    /// llama.cpp's uncertainty of the final estimate: `ppl · sqrt((⟨nll²⟩ − ⟨nll⟩²) / (count − 1))`, or nil when it
    /// cannot be computed (fewer than two tokens, or a non-positive variance).
    public var standardError: Double? {
        guard count > 1 else { return nil }
        let mean = negativeLogLikelihood / Double(count)
        let variance = squaredNegativeLogLikelihood / Double(count) - mean * mean
        guard variance > 0 else { return nil }
        return perplexity * (variance / Double(count - 1)).squareRoot()
    }
}

/// The logits read by every thread and the accumulators, one slot per thread, each written by its thread only.
private struct SharedBuffers: @unchecked Sendable {
    let logits: UnsafeBufferPointer<Float>
    let partials: UnsafeMutableBufferPointer<PerplexityAccumulator>
}
