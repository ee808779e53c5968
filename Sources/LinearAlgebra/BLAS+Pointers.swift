// SPDX-License-Identifier: Apache-2.0
import COpenBLAS

// MARK: - Raw-pointer GEMM

extension BLAS {
    /// Whether an operand enters a product as stored or transposed.
    public enum Transpose: Sendable {
        /// Use the operand as stored.
        case none
        /// Use the transpose of the operand.
        case transpose

        var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
    }

    /// `c = alpha · op(a) · op(b) + beta · c` on row-major strided buffers, by `cblas_sgemm`.
    ///
    /// `op(a)` is `m × k`, `op(b)` is `k × n` and `c` is `m × n`; `lda`, `ldb` and `ldc` are the row strides (in
    /// elements) of the buffers as stored. This is the form the forward pass uses to multiply column slices
    /// (one attention head) or to accumulate into the residual stream (`beta = 1`) without copies.
    /// Traps if a dimension is negative or a stride is shorter than the row it describes.
    public static func gemm(
        _ transposeA: Transpose, _ transposeB: Transpose, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative GEMM dimension")
        precondition(lda >= max(1, transposeA == .none ? k : m), "lda too small")
        precondition(ldb >= max(1, transposeB == .none ? n : k), "ldb too small")
        precondition(ldc >= max(1, n), "ldc too small")
        guard m > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, transposeA.cblas, transposeB.cblas, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda),
            b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The number of threads OpenBLAS uses for one call (set by `OPENBLAS_NUM_THREADS` or ``setThreadCount(_:)``).
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// Sets the number of threads OpenBLAS uses for one call. Traps if `count` is not positive.
    public static func setThreadCount(_ count: Int) {
        precondition(count > 0, "thread count must be positive")
        openblas_set_num_threads(Int32(count))
    }
}
