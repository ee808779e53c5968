// SPDX-License-Identifier: Apache-2.0
import COpenBLAS

/// Matrix products and factorizations over OpenBLAS.
public enum BLAS {
    /// `a · b` (or with either operand transposed), computed by `cblas_sgemm`.
    ///
    /// Traps if the inner dimensions do not agree.
    public static func multiply(
        _ a: Matrix, _ b: Matrix, transposeA: Bool = false, transposeB: Bool = false
    ) -> Matrix {
        let (m, k) = transposeA ? (a.columns, a.rows) : (a.rows, a.columns)
        let (kb, n) = transposeB ? (b.columns, b.rows) : (b.rows, b.columns)
        precondition(k == kb, "inner dimensions differ: \(k) vs \(kb)")
        var c = Matrix(zeros: m, n)
        guard m > 0, n > 0 else { return c }
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                c.values.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(
                        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                        transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                        pa.baseAddress, Int32(a.columns), pb.baseAddress, Int32(b.columns), 0,
                        pc.baseAddress, Int32(n))
                }
            }
        }
        return c
    }

    /// The lower Cholesky factor `L` of a symmetric positive-definite matrix (`a = L·Lᵀ`), by `spotrf`.
    ///
    /// - Throws: ``LinearAlgebraError/lapackFailure(routine:info:)`` when `a` is not positive definite.
    /// Traps if `a` is not square.
    public static func cholesky(_ a: Matrix) throws(LinearAlgebraError) -> Matrix {
        precondition(a.rows == a.columns, "cholesky needs a square matrix")
        var n = Int32(a.rows)
        var lda = n
        var info: Int32 = 0
        var uplo = Int8(UInt8(ascii: "U"))  // row-major lower == column-major upper
        var factor = a
        factor.values.withUnsafeMutableBufferPointer { p in
            spotrf_(&uplo, &n, p.baseAddress, &lda, &info)
        }
        guard info == 0 else { throw .lapackFailure(routine: "spotrf", info: info) }
        for r in 0..<a.rows {
            for c in (r + 1)..<max(r + 1, a.columns) { factor[r, c] = 0 }
        }
        return factor
    }
}
