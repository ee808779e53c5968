// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// A correction of the form `U·Uᵀ·E`: the residual `E` projected onto the span of `r` orthonormal output
/// directions `U`. The svd, exact and quailora solutions all have this form; they differ only in `U`.
struct SubspaceProjection {
    /// `U`, `out × r`, orthonormal columns.
    let basis: DoubleMatrix

    /// The top-`rank` left singular subspace of `E·L`, where `weighting = L·Lᵀ` (`nil` means the
    /// identity: the plain truncated SVD of `E`).
    ///
    /// Only the `r` largest eigenpairs of a Gram matrix are computed (`dsyevr`), not a full SVD. The Gram
    /// matrix squares the condition number, which costs nothing that matters here: float64 resolves
    /// eigenvalues down to ~1e-16 of the largest, while `E` comes from float32 data.
    /// - `F = E·L` with `L` the Cholesky factor of the weighting (`dtrmm`); for a wide or square `F`
    ///   (`out ≤ in`) the eigenvectors of `F·Fᵀ` (`out × out`) are the subspace; for a tall `F` the top right
    ///   singular vectors `Z` come from the smaller `Fᵀ·F` (`in × in`) and `U = orth(F·Z)` spans the same
    ///   subspace.
    /// - Documented recovery: if `dpotrf` fails (singular `H` without damping), the eigenvectors of
    ///   `G = E·H·Eᵀ` (`out × out`, formed by two general products) give the same subspace without a
    ///   factorisation.
    static func dominant(
        _ e: DoubleMatrix, weighting h: DoubleMatrix?, rank: Int
    ) throws(LinearAlgebraError) -> SubspaceProjection {
        if e.rows > e.columns {
            let whitened: DoubleMatrix? =
                if let h { (try? LAPACK.cholesky(h)).map { BLAS.multiply(e, lowerTriangular: $0) } } else { e }
            if let f = whitened {
                let z = try LAPACK.largestEigenpairs(BLAS.gram(f, transpose: true), count: rank).vectors
                return try SubspaceProjection(spanning: BLAS.multiply(f, z, transposeB: true))
            }
        }
        let g = weightedGram(e, h)
        return SubspaceProjection(basis: try LAPACK.largestEigenpairs(g, count: rank).vectors.transposed())
    }

    /// `G = E·H·Eᵀ` (`out × out`; `E·Eᵀ` when `h` is nil): `dsyrk` of `E·L` when `H = L·Lᵀ` has a Cholesky
    /// factor, otherwise (singular `H`, the documented recovery) two general products.
    static func weightedGram(_ e: DoubleMatrix, _ h: DoubleMatrix?) -> DoubleMatrix {
        guard let h else { return BLAS.gram(e) }
        if let l = try? LAPACK.cholesky(h) { return BLAS.gram(BLAS.multiply(e, lowerTriangular: l)) }
        return BLAS.multiply(BLAS.multiply(e, h), e, transposeB: true)
    }

    /// Wraps orthonormal columns.
    init(basis: DoubleMatrix) { self.basis = basis }

    /// The orthonormal basis (Householder QR) of the span of `columns`.
    init(spanning columns: DoubleMatrix) throws(LinearAlgebraError) {
        basis = try LAPACK.qrDecomposition(columns).q
    }

    /// Factors of `U·Uᵀ·E` with the singular values split evenly: `Uᵀ·E = P·S·Vᵀ` (an `r × in` SVD), then
    /// `b = U·P·√S` and `a = √S·Vᵀ` (the square-root split of PEFT's `loftq_init` and the QuAILoRA paper).
    func balancedFactors(of e: DoubleMatrix) throws(LinearAlgebraError) -> LowRankFactors {
        let svd = try LAPACK.singularValueDecomposition(BLAS.multiply(basis, e, transposeA: true))
        let roots = svd.singularValues.map { $0.squareRoot() }
        var b = BLAS.multiply(basis, svd.u)
        var a = svd.vt
        for row in 0..<b.rows {
            for k in roots.indices { b[row, k] *= roots[k] }
        }
        for k in roots.indices {
            for column in 0..<a.columns { a[k, column] *= roots[k] }
        }
        return LowRankFactors(a: Matrix(a), b: Matrix(b))
    }
}
