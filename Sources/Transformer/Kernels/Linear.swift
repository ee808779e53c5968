// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// `out (T, out) = x (T, in) · Wᵀ`, or `out += x · Wᵀ` when `accumulate` (PyTorch `nn.Linear` without bias; `W` is
/// `(out, in)` as stored in the HF state dict), as one single-threaded `sgemm` per worker on a slice of the output
/// features.
///
/// The pass's own workers do the splitting, so OpenBLAS never wakes its thread pool: its idle workers busy-wait
/// with `sched_yield` for about 0.1 s after every multi-threaded call, which took about a sixth of the CPU time of
/// a 2-thread pass while attention and the element-wise kernels ran on the same two cores (bench/README.md).
///
/// - Parameters:
///   - x: `(rows, weight.columns)`, row stride `weight.columns`.
///   - out: `(rows, weight.rows)` with row stride `outStride`.
func linear(
    _ x: UnsafePointer<Float>, rows: Int, weight: Matrix, into out: UnsafeMutablePointer<Float>,
    outStride: Int? = nil, accumulate: Bool = false, threads: Int
) {
    let k = weight.columns
    let features = weight.rows
    let units = (features + featureAlignment - 1) / featureAlignment
    weight.values.withUnsafeBufferPointer { w in
        guard let w = w.baseAddress else { return }
        Parallel.forRanges(units, threads: threads) { range in
            let first = range.lowerBound * featureAlignment
            let end = min(features, range.upperBound * featureAlignment)
            BLAS.gemm(
                .none, .transpose, m: rows, n: end - first, k: k, a: x, lda: k, b: w + first * k, ldb: k,
                beta: accumulate ? 1 : 0, c: out + first, ldc: outStride ?? features)
        }
    }
}

/// `out (T, Σ outᵢ) = x · [W₀; W₁; …]ᵀ`: each weight's product written into its own columns of `out`, side by side
/// in order (a stacked matrix of one part is one product).
func linear(
    _ x: UnsafePointer<Float>, rows: Int, weights: [Matrix], into out: UnsafeMutablePointer<Float>, threads: Int
) {
    let stride = weights.reduce(0) { $0 + $1.rows }
    var column = 0
    for weight in weights {
        linear(x, rows: rows, weight: weight, into: out + column, outStride: stride, threads: threads)
        column += weight.rows
    }
}

/// Output features per unit of the split: 16 floats are one 64-byte cache line, so two workers never write the same
/// line of an output row.
let featureAlignment = 16
