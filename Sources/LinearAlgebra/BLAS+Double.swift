// SPDX-License-Identifier: Apache-2.0
import COpenBLAS

/// Float64 products over OpenBLAS: `dgemm`, `dsyrk`, `dtrmm`, `dtrsm`.
extension BLAS {
    /// `scale · a · b` (or with either operand transposed), computed by `cblas_dgemm`.
    ///
    /// Traps if the inner dimensions do not agree.
    public static func multiply(
        _ a: DoubleMatrix, _ b: DoubleMatrix, transposeA: Bool = false, transposeB: Bool = false,
        scale: Double = 1
    ) -> DoubleMatrix {
        let (m, k) = transposeA ? (a.columns, a.rows) : (a.rows, a.columns)
        let (kb, n) = transposeB ? (b.columns, b.rows) : (b.rows, b.columns)
        precondition(k == kb, "inner dimensions differ: \(k) vs \(kb)")
        var c = DoubleMatrix(zeros: m, n)
        guard m > 0, n > 0, k > 0 else { return c }
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                c.values.withUnsafeMutableBufferPointer { pc in
                    cblas_dgemm(
                        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                        transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), scale,
                        pa.baseAddress, Int32(a.columns), pb.baseAddress, Int32(b.columns), 0,
                        pc.baseAddress, Int32(n))
                }
            }
        }
        return c
    }

    /// The Gram matrix `a · aᵀ`, or `aᵀ · a` when `transpose` is true, by `cblas_dsyrk` (half the work of a
    /// general product); both triangles are filled.
    public static func gram(_ a: DoubleMatrix, transpose: Bool = false) -> DoubleMatrix {
        let (n, k) = transpose ? (a.columns, a.rows) : (a.rows, a.columns)
        var c = DoubleMatrix(zeros: n, n)
        guard n > 0, k > 0 else { return c }
        a.values.withUnsafeBufferPointer { pa in
            c.values.withUnsafeMutableBufferPointer { pc in
                guard let base = pc.baseAddress else { return }
                cblas_dsyrk(
                    CblasRowMajor, CblasUpper, transpose ? CblasTrans : CblasNoTrans, Int32(n), Int32(k), 1,
                    pa.baseAddress, Int32(a.columns), 0, base, Int32(n))
                mirrorUpperTriangle(base, order: n)
            }
        }
        return c
    }

    /// Rows of float32 activations converted per block, so the float64 scratch stays small.
    static let gramBlockRows = 256

    /// Adds `xᵀ · x` to the float64 Gram matrix `h`, where `x` holds `rows` activation vectors of length
    /// `columns` (row-major, one token per row).
    ///
    /// Blocks of rows are widened to float64 and passed to `cblas_dsyrk`. A product of two float32 values
    /// is exact in float64, so the only rounding is the float64 summation: the result does not depend on
    /// float32 accumulation over many tokens, and partial sums (shards) add up to the single-run result to
    /// summation tolerance. The float32 alternative (`ssyrk` into a scratch, then added) would run about
    /// twice as fast but round every product and every in-block sum to 24 bits.
    /// Traps if `x.count != rows * columns` or `h` is not `columns × columns`.
    public static func accumulateGram(
        _ x: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into h: inout DoubleMatrix
    ) {
        precondition(x.count == rows * columns, "activation buffer size mismatch")
        precondition(h.rows == columns && h.columns == columns, "Gram matrix must be columns × columns")
        guard rows > 0, columns > 0 else { return }
        let blockRows = min(rows, gramBlockRows)
        var scratch = [Double](repeating: 0, count: blockRows * columns)
        h.values.withUnsafeMutableBufferPointer { ph in
            guard let base = ph.baseAddress else { return }
            var start = 0
            while start < rows {
                let count = min(blockRows, rows - start)
                scratch.withUnsafeMutableBufferPointer { block in
                    for i in 0..<(count * columns) { block[i] = Double(x[start * columns + i]) }
                    cblas_dsyrk(
                        CblasRowMajor, CblasUpper, CblasTrans, Int32(columns), Int32(count), 1,
                        block.baseAddress, Int32(columns), 1, base, Int32(columns))
                }
                start += count
            }
            mirrorUpperTriangle(base, order: columns)
        }
    }

    /// `a · L` for a lower-triangular `l` (only its lower triangle is read), by `cblas_dtrmm` (half the work
    /// of a general product).
    ///
    /// Traps if `l` is not square or its order differs from `a.columns`.
    public static func multiply(_ a: DoubleMatrix, lowerTriangular l: DoubleMatrix) -> DoubleMatrix {
        precondition(l.rows == l.columns && l.columns == a.columns, "triangular factor shape mismatch")
        var x = a
        guard a.rows > 0, a.columns > 0 else { return x }
        l.values.withUnsafeBufferPointer { pl in
            x.values.withUnsafeMutableBufferPointer { px in
                cblas_dtrmm(
                    CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, Int32(a.rows),
                    Int32(a.columns), 1, pl.baseAddress, Int32(l.columns), px.baseAddress, Int32(a.columns))
            }
        }
        return x
    }

    /// `b · L⁻¹` for a lower-triangular `l` (only its lower triangle is read), by `cblas_dtrsm`.
    ///
    /// Traps if `l` is not square or its order differs from `b.columns`. A zero on the diagonal of `l`
    /// gives infinities; the caller passes a Cholesky factor of a positive-definite matrix.
    public static func divide(_ b: DoubleMatrix, byLowerTriangular l: DoubleMatrix) -> DoubleMatrix {
        precondition(l.rows == l.columns && l.columns == b.columns, "triangular factor shape mismatch")
        var x = b
        guard b.rows > 0, b.columns > 0 else { return x }
        l.values.withUnsafeBufferPointer { pl in
            x.values.withUnsafeMutableBufferPointer { px in
                cblas_dtrsm(
                    CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, Int32(b.rows),
                    Int32(b.columns), 1, pl.baseAddress, Int32(l.columns), px.baseAddress, Int32(b.columns))
            }
        }
        return x
    }

    /// Copies the upper triangle of a row-major `order × order` matrix onto its lower triangle.
    static func mirrorUpperTriangle(_ a: UnsafeMutablePointer<Double>, order n: Int) {
        for r in 1..<max(n, 1) {
            for c in 0..<r { a[r * n + c] = a[c * n + r] }
        }
    }
}
