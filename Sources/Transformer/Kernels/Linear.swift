// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// `out (T, out) = x (T, in) · Wᵀ`, or `out += x · Wᵀ` when `accumulate` (PyTorch `nn.Linear` without bias; `W` is
/// `(out, in)` as stored in the HF state dict). Each of `threads` threads runs one
/// single-threaded `sgemm` over the whole chunk for a slice of the output features.
///
/// - Parameters:
///   - x: `(rows, weight.columns)`, row stride `weight.columns`.
///   - out: `(rows, weight.rows)` with row stride `outStride`.
func linear(
    _ x: UnsafePointer<Float>, rows: Int, weight: Matrix, into out: UnsafeMutablePointer<Float>,
    outStride: Int? = nil, accumulate: Bool = false, threads: Int
) {
    let k = weight.columns
    weight.values.withUnsafeBufferPointer { w in
        guard let w = w.baseAddress else { return }
        // out[:, features] (T, |features|) = x (T, in) · W[features]ᵀ
        Parallel.forRanges(weight.rows, threads: threads, grain: 32, alignment: 16) { features in
            BLAS.gemm(
                .none, .transpose, m: rows, n: features.count, k: k, a: x, lda: k, b: w + features.lowerBound * k,
                ldb: k, beta: accumulate ? 1 : 0, c: out + features.lowerBound, ldc: outStride ?? weight.rows)
        }
    }
}
