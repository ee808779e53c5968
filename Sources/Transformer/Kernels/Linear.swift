// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// `out (T, out) = x (T, in) · Wᵀ`, or `out += x · Wᵀ` when `accumulate` (PyTorch `nn.Linear` without bias; `W` is
/// `(out, in)` as stored in the HF state dict). One `sgemm` for the whole chunk.
///
/// - Parameters:
///   - x: `(rows, weight.columns)`, row stride `weight.columns`.
///   - out: `(rows, weight.rows)` with row stride `outStride`.
func linear(
    _ x: UnsafePointer<Float>, rows: Int, weight: Matrix, into out: UnsafeMutablePointer<Float>,
    outStride: Int? = nil, accumulate: Bool = false
) {
    weight.values.withUnsafeBufferPointer { w in
        guard let w = w.baseAddress else { return }
        BLAS.gemm(
            .none, .transpose, m: rows, n: weight.rows, k: weight.columns, a: x, lda: weight.columns, b: w,
            ldb: weight.columns, beta: accumulate ? 1 : 0, c: out, ldc: outStride ?? weight.rows)
    }
}
