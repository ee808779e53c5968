// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra
import TensorCore
import Testing

/// A matrix of standard normal samples.
func gaussianMatrix(_ rows: Int, _ columns: Int, _ rng: inout SplitMix64) -> DoubleMatrix {
    DoubleMatrix(rows: rows, columns: columns, values: (0..<(rows * columns)).map { _ in rng.nextGaussian() })
}

/// The largest absolute element-wise difference.
func maxDifference(_ a: DoubleMatrix, _ b: DoubleMatrix) -> Double {
    #expect(a.rows == b.rows && a.columns == b.columns)
    return zip(a.values, b.values).map { abs($0 - $1) }.max() ?? 0
}

func naiveProduct(_ a: DoubleMatrix, _ b: DoubleMatrix) -> DoubleMatrix {
    var c = DoubleMatrix(zeros: a.rows, b.columns)
    for i in 0..<a.rows {
        for j in 0..<b.columns {
            var sum = 0.0
            for k in 0..<a.columns { sum += a[i, k] * b[k, j] }
            c[i, j] = sum
        }
    }
    return c
}

func identity(_ n: Int) -> DoubleMatrix {
    var m = DoubleMatrix(zeros: n, n)
    for i in 0..<n { m[i, i] = 1 }
    return m
}

@Suite("Float64 BLAS")
struct DoubleBLASTests {
    @Test("dgemm agrees with a naive triple loop, with and without transposes and a scale")
    func gemm() {
        var rng = SplitMix64(seed: 1)
        let a = gaussianMatrix(5, 7, &rng)
        let b = gaussianMatrix(7, 3, &rng)
        let reference = naiveProduct(a, b)
        #expect(maxDifference(BLAS.multiply(a, b), reference) < 1e-12)
        let scaled = BLAS.multiply(b, a, transposeA: true, transposeB: true, scale: -2)
        #expect(maxDifference(BLAS.multiply(scaled, identity(5), scale: -0.5), reference.transposed()) < 1e-12)
    }

    @Test("dsyrk Gram matrices equal the general products in both orientations and are symmetric")
    func gram() {
        var rng = SplitMix64(seed: 2)
        let a = gaussianMatrix(6, 9, &rng)
        let outer = BLAS.gram(a)
        let inner = BLAS.gram(a, transpose: true)
        #expect(maxDifference(outer, BLAS.multiply(a, a, transposeB: true)) < 1e-12)
        #expect(maxDifference(inner, BLAS.multiply(a, a, transposeA: true)) < 1e-12)
        #expect(outer == outer.transposed() && inner == inner.transposed())
    }

    @Test("accumulateGram adds XᵀX across block boundaries, and shards sum to the whole")
    func accumulateGram() {
        var rng = SplitMix64(seed: 3)
        let rows = 600
        let columns = 24  // 600 rows span three 256-row blocks
        let x = (0..<(rows * columns)).map { _ in Float(rng.nextGaussian()) }
        var whole = DoubleMatrix(zeros: columns, columns)
        x.withUnsafeBufferPointer { BLAS.accumulateGram($0, rows: rows, columns: columns, into: &whole) }
        let widened = DoubleMatrix(Matrix(rows: rows, columns: columns, values: x))
        #expect(maxDifference(whole, naiveProduct(widened.transposed(), widened)) < 1e-9)
        #expect(whole == whole.transposed())
        var sharded = DoubleMatrix(zeros: columns, columns)
        for range in [0..<100, 100..<101, 101..<600] {
            x[(range.lowerBound * columns)..<(range.upperBound * columns)].withUnsafeBufferPointer {
                BLAS.accumulateGram($0, rows: range.count, columns: columns, into: &sharded)
            }
        }
        #expect(maxDifference(whole, sharded) < 1e-10)
    }

    @Test("divide(byLowerTriangular:) solves X·L = B")
    func triangularSolve() {
        var rng = SplitMix64(seed: 4)
        var l = gaussianMatrix(5, 5, &rng)
        for r in 0..<5 {
            l[r, r] = 3 + abs(l[r, r])
            for c in (r + 1)..<max(r + 1, 5) { l[r, c] = 0 }
        }
        let b = gaussianMatrix(4, 5, &rng)
        let x = BLAS.divide(b, byLowerTriangular: l)
        #expect(maxDifference(naiveProduct(x, l), b) < 1e-12)
    }
}

@Suite("LAPACK")
struct LAPACKTests {
    /// A symmetric positive-definite matrix with a known spread of eigenvalues.
    func spd(_ n: Int, _ rng: inout SplitMix64) -> DoubleMatrix {
        let g = gaussianMatrix(n, n + 3, &rng)
        return BLAS.gram(g)
    }

    @Test("dpotrf: L·Lᵀ reconstructs an SPD matrix, the upper triangle is zero, an indefinite matrix throws")
    func cholesky() throws {
        var rng = SplitMix64(seed: 5)
        let a = spd(8, &rng)
        let l = try LAPACK.cholesky(a)
        #expect(l[0, 7] == 0 && l[2, 3] == 0)
        #expect(maxDifference(BLAS.multiply(l, l, transposeB: true), a) < 1e-10)
        #expect(throws: LinearAlgebraError.lapackFailure(routine: "dpotrf", info: 2)) {
            try LAPACK.cholesky(DoubleMatrix(rows: 2, columns: 2, values: [1, 2, 2, 1]))
        }
    }

    @Test("dsyevd: A·v = λ·v, orthonormal vectors, ascending values; dsyevr returns the top of the same spectrum")
    func eigen() throws {
        var rng = SplitMix64(seed: 6)
        let a = spd(10, &rng)
        let full = try LAPACK.symmetricEigendecomposition(a)
        #expect(full.values == full.values.sorted())
        let v = full.vectors  // rows are eigenvectors
        #expect(maxDifference(BLAS.multiply(v, v, transposeB: true), identity(10)) < 1e-12)
        let av = BLAS.multiply(a, v, transposeB: true)  // columns A·v_i
        for i in 0..<10 {
            for j in 0..<10 { #expect(abs(av[j, i] - full.values[i] * v[i, j]) < 1e-9) }
        }
        let top = try LAPACK.largestEigenpairs(a, count: 3)
        #expect(top.values.count == 3 && top.vectors.rows == 3)
        for i in 0..<3 {
            #expect(abs(top.values[i] - full.values[7 + i]) < 1e-9 * full.values[9])
            let overlap = (0..<10).map { top.vectors[i, $0] * v[7 + i, $0] }.reduce(0, +)
            #expect(abs(abs(overlap) - 1) < 1e-9)
        }
    }

    @Test("dgesdd: thin SVD of tall and wide matrices reconstructs them with orthonormal factors")
    func svd() throws {
        var rng = SplitMix64(seed: 7)
        for (m, n) in [(9, 4), (4, 9), (6, 6)] {
            let a = gaussianMatrix(m, n, &rng)
            let d = try LAPACK.singularValueDecomposition(a)
            let k = min(m, n)
            #expect(d.u.rows == m && d.u.columns == k && d.vt.rows == k && d.vt.columns == n)
            #expect(d.singularValues == d.singularValues.sorted(by: >))
            var us = d.u
            for i in 0..<m { for j in 0..<k { us[i, j] *= d.singularValues[j] } }
            #expect(maxDifference(BLAS.multiply(us, d.vt), a) < 1e-12)
            #expect(maxDifference(BLAS.multiply(d.u, d.u, transposeA: true), identity(k)) < 1e-12)
            #expect(maxDifference(BLAS.multiply(d.vt, d.vt, transposeB: true), identity(k)) < 1e-12)
        }
    }

    @Test("dgeqrf/dorgqr: Q·R reconstructs, Q is orthonormal even for a rank-deficient input, R is upper")
    func qr() throws {
        var rng = SplitMix64(seed: 8)
        var a = gaussianMatrix(7, 3, &rng)
        let d = try LAPACK.qrDecomposition(a)
        #expect(maxDifference(BLAS.multiply(d.q, d.r), a) < 1e-12)
        #expect(d.r[1, 0] == 0 && d.r[2, 0] == 0 && d.r[2, 1] == 0)
        for i in 0..<7 { a[i, 2] = 2 * a[i, 0] }  // rank 2
        let deficient = try LAPACK.qrDecomposition(a)
        #expect(maxDifference(BLAS.multiply(deficient.q, deficient.q, transposeA: true), identity(3)) < 1e-12)
        #expect(maxDifference(BLAS.multiply(deficient.q, deficient.r), a) < 1e-12)
    }
}

@Suite("Float64 triangular products")
struct TriangularProductTests {
    @Test("multiply(_:lowerTriangular:) equals the general product with the strict upper part ignored")
    func trmm() {
        var rng = SplitMix64(seed: 9)
        let l = gaussianMatrix(6, 6, &rng)  // upper part must be ignored
        var lower = l
        for r in 0..<6 { for c in (r + 1)..<max(r + 1, 6) { lower[r, c] = 0 } }
        let a = gaussianMatrix(4, 6, &rng)
        #expect(maxDifference(BLAS.multiply(a, lowerTriangular: l), naiveProduct(a, lower)) < 1e-12)
    }
}
