// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra
import Testing

@Suite("BLAS")
struct BLASTests {
    @Test("sgemm agrees with a naive triple loop, with and without transposes")
    func gemmMatchesNaive() {
        let a = Matrix(rows: 3, columns: 4, values: (0..<12).map { Float($0) * 0.5 - 2 })
        let b = Matrix(rows: 4, columns: 2, values: (0..<8).map { Float($0) - 3 })
        let c = BLAS.multiply(a, b)
        for i in 0..<3 {
            for j in 0..<2 {
                var sum: Float = 0
                for k in 0..<4 { sum += a[i, k] * b[k, j] }
                #expect(abs(c[i, j] - sum) < 1e-5)
            }
        }
        let ct = BLAS.multiply(b, a, transposeA: true, transposeB: true)
        for i in 0..<2 { for j in 0..<3 { #expect(abs(ct[i, j] - c[j, i]) < 1e-5) } }
    }

    @Test("Cholesky reconstructs an SPD matrix and rejects an indefinite one")
    func cholesky() throws {
        let a = Matrix(rows: 2, columns: 2, values: [4, 2, 2, 3])
        let l = try BLAS.cholesky(a)
        #expect(l[0, 1] == 0)
        let back = BLAS.multiply(l, l, transposeB: true)
        for (x, y) in zip(back.values, a.values) { #expect(abs(x - y) < 1e-5) }
        #expect(throws: LinearAlgebraError.lapackFailure(routine: "spotrf", info: 2)) {
            try BLAS.cholesky(Matrix(rows: 2, columns: 2, values: [1, 2, 2, 1]))
        }
    }
}
