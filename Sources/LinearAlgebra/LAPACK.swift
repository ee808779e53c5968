// SPDX-License-Identifier: Apache-2.0
import COpenBLAS

/// The eigenvalues and eigenvectors of a symmetric matrix (all of them, or the largest few).
public struct SymmetricEigendecomposition: Equatable, Sendable {
    /// Eigenvalues in ascending order.
    public let values: [Double]
    /// One eigenvector per row (`values.count × n`), row `i` belonging to `values[i]`; unit length.
    public let vectors: DoubleMatrix
}

/// A thin singular value decomposition `a = u · diag(singularValues) · vt`.
public struct SingularValueDecomposition: Equatable, Sendable {
    /// Left singular vectors as columns (`m × k`, `k = min(m, n)`).
    public let u: DoubleMatrix
    /// Singular values in descending order (`k` of them).
    public let singularValues: [Double]
    /// Right singular vectors as rows (`k × n`).
    public let vt: DoubleMatrix
}

/// A thin QR decomposition `a = q · r` of a tall matrix.
public struct QRDecomposition: Equatable, Sendable {
    /// Orthonormal columns (`m × n`).
    public let q: DoubleMatrix
    /// Upper triangular (`n × n`).
    public let r: DoubleMatrix
}

/// Float64 factorizations through the Fortran LAPACK routines exported by OpenBLAS.
///
/// LAPACK is column-major; a row-major matrix is its transpose in column-major order, and each wrapper
/// maps its results back, so every argument and result here is row-major.
public enum LAPACK {
    /// The lower Cholesky factor `L` of a symmetric positive-definite matrix (`a = L·Lᵀ`), by `dpotrf`.
    ///
    /// Only the lower triangle of `a` matters. Traps if `a` is not square.
    /// - Throws: ``LinearAlgebraError/lapackFailure(routine:info:)`` with `info > 0` when the leading
    ///   minor of that order is not positive definite.
    public static func cholesky(_ a: DoubleMatrix) throws(LinearAlgebraError) -> DoubleMatrix {
        precondition(a.rows == a.columns, "cholesky needs a square matrix")
        var factor = a
        var n = Int32(a.rows)
        var lda = max(n, 1)
        var info: Int32 = 0
        var uplo = character("U")  // column-major upper == row-major lower
        factor.values.withUnsafeMutableBufferPointer { p in dpotrf_(&uplo, &n, p.baseAddress, &lda, &info) }
        guard info == 0 else { throw .lapackFailure(routine: "dpotrf", info: info) }
        for r in 0..<a.rows {
            for c in (r + 1)..<max(r + 1, a.columns) { factor[r, c] = 0 }
        }
        return factor
    }

    /// All eigenvalues and eigenvectors of a symmetric matrix, by the divide-and-conquer `dsyevd`.
    ///
    /// Only the upper triangle of `a` is read. Traps if `a` is not square.
    /// - Throws: ``LinearAlgebraError/lapackFailure(routine:info:)`` when the algorithm fails to converge.
    public static func symmetricEigendecomposition(
        _ a: DoubleMatrix
    ) throws(LinearAlgebraError) -> SymmetricEigendecomposition {
        precondition(a.rows == a.columns, "eigendecomposition needs a square matrix")
        let order = a.rows
        var matrix = a
        var values = [Double](repeating: 0, count: order)
        guard order > 0 else { return SymmetricEigendecomposition(values: [], vectors: matrix) }
        var jobz = character("V")
        var uplo = character("L")
        var n = Int32(order)
        var lda = n
        var info: Int32 = 0
        var lwork: Int32 = -1
        var liwork: Int32 = -1
        var workSize = 0.0
        var iworkSize: Int32 = 0
        dsyevd_(&jobz, &uplo, &n, &matrix.values, &lda, &values, &workSize, &lwork, &iworkSize, &liwork, &info)
        guard info == 0 else { throw .lapackFailure(routine: "dsyevd", info: info) }
        lwork = Int32(workSize)
        liwork = iworkSize
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jobz, &uplo, &n, &matrix.values, &lda, &values, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw .lapackFailure(routine: "dsyevd", info: info) }
        // Column-major eigenvector j is row j of the row-major view.
        return SymmetricEigendecomposition(values: values, vectors: matrix)
    }

    /// The `count` largest eigenvalues of a symmetric matrix and their eigenvectors, by `dsyevr`
    /// (tridiagonal reduction, then relatively robust representations for the selected pairs only).
    ///
    /// Cheaper than a full decomposition when `count` is small. Only the upper triangle of `a` is read.
    /// Traps if `a` is not square or `count` is outside `1...order`.
    /// - Throws: ``LinearAlgebraError/lapackFailure(routine:info:)`` on an internal LAPACK error.
    public static func largestEigenpairs(
        _ a: DoubleMatrix, count: Int
    ) throws(LinearAlgebraError) -> SymmetricEigendecomposition {
        precondition(a.rows == a.columns, "eigendecomposition needs a square matrix")
        precondition(count >= 1 && count <= a.rows, "eigenpair count out of range")
        let order = a.rows
        var matrix = a
        var jobz = character("V")
        var range = character("I")
        var uplo = character("L")
        var n = Int32(order)
        var lda = n
        var vl = 0.0
        var vu = 0.0
        var il = Int32(order - count + 1)
        var iu = Int32(order)
        var abstol = 0.0
        var found: Int32 = 0
        var values = [Double](repeating: 0, count: order)
        var vectors = [Double](repeating: 0, count: order * count)
        var ldz = n
        var support = [Int32](repeating: 0, count: 2 * count)
        var info: Int32 = 0
        var lwork: Int32 = -1
        var liwork: Int32 = -1
        var workSize = 0.0
        var iworkSize: Int32 = 0
        dsyevr_(
            &jobz, &range, &uplo, &n, &matrix.values, &lda, &vl, &vu, &il, &iu, &abstol, &found, &values,
            &vectors, &ldz, &support, &workSize, &lwork, &iworkSize, &liwork, &info)
        guard info == 0 else { throw .lapackFailure(routine: "dsyevr", info: info) }
        lwork = Int32(workSize)
        liwork = iworkSize
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevr_(
            &jobz, &range, &uplo, &n, &matrix.values, &lda, &vl, &vu, &il, &iu, &abstol, &found, &values,
            &vectors, &ldz, &support, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw .lapackFailure(routine: "dsyevr", info: info) }
        guard Int(found) == count else { throw .lapackFailure(routine: "dsyevr", info: Int32(count) - found) }
        return SymmetricEigendecomposition(
            values: Array(values.prefix(count)),
            vectors: DoubleMatrix(rows: count, columns: order, values: vectors))
    }

    /// The thin singular value decomposition, by the divide-and-conquer `dgesdd`.
    ///
    /// - Throws: ``LinearAlgebraError/lapackFailure(routine:info:)`` when the iteration does not converge.
    public static func singularValueDecomposition(
        _ a: DoubleMatrix
    ) throws(LinearAlgebraError) -> SingularValueDecomposition {
        // Row-major a (m × n) is column-major aᵀ (n × m). LAPACK returns aᵀ = U'·S·V'ᵀ, so a = V'·S·U'ᵀ:
        // the column-major U' buffer is our row-major vt, and the column-major V'ᵀ buffer is our u.
        let (m, n) = (a.rows, a.columns)
        let k = min(m, n)
        guard k > 0 else {
            return SingularValueDecomposition(
                u: DoubleMatrix(zeros: m, 0), singularValues: [], vt: DoubleMatrix(zeros: 0, n))
        }
        var matrix = a
        var jobz = character("S")
        var rowsCM = Int32(n)
        var columnsCM = Int32(m)
        var lda = rowsCM
        var singular = [Double](repeating: 0, count: k)
        var leftCM = [Double](repeating: 0, count: n * k)
        var ldu = rowsCM
        var rightCM = [Double](repeating: 0, count: k * m)
        var ldvt = Int32(k)
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var info: Int32 = 0
        var lwork: Int32 = -1
        var workSize = 0.0
        dgesdd_(
            &jobz, &rowsCM, &columnsCM, &matrix.values, &lda, &singular, &leftCM, &ldu, &rightCM, &ldvt,
            &workSize, &lwork, &iwork, &info)
        guard info == 0 else { throw .lapackFailure(routine: "dgesdd", info: info) }
        lwork = Int32(workSize)
        var work = [Double](repeating: 0, count: Int(lwork))
        dgesdd_(
            &jobz, &rowsCM, &columnsCM, &matrix.values, &lda, &singular, &leftCM, &ldu, &rightCM, &ldvt,
            &work, &lwork, &iwork, &info)
        guard info == 0 else { throw .lapackFailure(routine: "dgesdd", info: info) }
        return SingularValueDecomposition(
            u: DoubleMatrix(rows: m, columns: k, values: rightCM), singularValues: singular,
            vt: DoubleMatrix(rows: k, columns: n, values: leftCM))
    }

    /// The thin QR decomposition of a tall matrix (`rows ≥ columns`), by `dgeqrf` and `dorgqr`
    /// (Householder reflections: `q` has orthonormal columns even when `a` is rank-deficient).
    ///
    /// Traps if `a` has more columns than rows.
    /// - Throws: ``LinearAlgebraError/lapackFailure(routine:info:)`` on an invalid argument.
    public static func qrDecomposition(_ a: DoubleMatrix) throws(LinearAlgebraError) -> QRDecomposition {
        let (rows, columns) = (a.rows, a.columns)
        precondition(rows >= columns, "QR decomposition needs a tall matrix")
        guard columns > 0 else {
            return QRDecomposition(q: DoubleMatrix(zeros: rows, 0), r: DoubleMatrix(zeros: 0, 0))
        }
        // The row-major transpose is the column-major matrix LAPACK expects.
        var packed = a.transposed()
        var m = Int32(rows)
        var n = Int32(columns)
        var lda = m
        var tau = [Double](repeating: 0, count: columns)
        var info: Int32 = 0
        var lwork: Int32 = -1
        var workSize = 0.0
        dgeqrf_(&m, &n, &packed.values, &lda, &tau, &workSize, &lwork, &info)
        guard info == 0 else { throw .lapackFailure(routine: "dgeqrf", info: info) }
        lwork = Int32(workSize)
        var work = [Double](repeating: 0, count: Int(lwork))
        dgeqrf_(&m, &n, &packed.values, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw .lapackFailure(routine: "dgeqrf", info: info) }
        var r = DoubleMatrix(zeros: columns, columns)
        for j in 0..<columns {
            for i in 0...j { r[i, j] = packed.values[j * rows + i] }
        }
        lwork = -1
        dorgqr_(&m, &n, &n, &packed.values, &lda, &tau, &workSize, &lwork, &info)
        guard info == 0 else { throw .lapackFailure(routine: "dorgqr", info: info) }
        lwork = Int32(workSize)
        work = [Double](repeating: 0, count: Int(lwork))
        dorgqr_(&m, &n, &n, &packed.values, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw .lapackFailure(routine: "dorgqr", info: info) }
        return QRDecomposition(q: packed.transposed(), r: r)
    }

    /// A one-character LAPACK option.
    private static func character(_ option: Unicode.Scalar) -> CChar {
        CChar(UInt8(ascii: option))
    }
}
