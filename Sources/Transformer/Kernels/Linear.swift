// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// `out (T, out) = x (T, in) · Wᵀ`, or `out += x · Wᵀ` when `accumulate` (PyTorch `nn.Linear` without bias; `W` is
/// `(out, in)` as stored in the HF state dict), as one `sgemm` on OpenBLAS's own `threads` threads.
///
/// OpenBLAS splits the product over its threads and packs the shared input once for all of them; one
/// single-threaded `sgemm` per thread on a slice of the output features packs `x` once per thread and measured
/// about 10% slower on this model's shapes (bench/README.md). OpenBLAS is set back to one thread on return, as
/// the rest of the forward pass expects.
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
        BLAS.setThreadCount(threads)
        defer { BLAS.setThreadCount(1) }
        BLAS.gemm(
            .none, .transpose, m: rows, n: weight.rows, k: k, a: x, lda: k, b: w, ldb: k, beta: accumulate ? 1 : 0,
            c: out, ldc: outStride ?? weight.rows)
    }
}
