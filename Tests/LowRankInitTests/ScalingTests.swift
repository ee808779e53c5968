// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra
import LowRankInit
import Testing

@Suite("LoRA scaling")
struct ScalingTests {
    @Test("α/r and α/√r for the paper's α = 16, r = 64")
    func rules() throws {
        #expect(try LoRAScalingRule.standard.scale(alpha: 16, rank: 64) == 0.25)
        #expect(try LoRAScalingRule.rankStabilized.scale(alpha: 16, rank: 64) == 2)
        for alpha in [0.0, -1, .nan, .infinity] {
            #expect(throws: LowRankInitError.self) { try LoRAScalingRule.standard.scale(alpha: alpha, rank: 8) }
        }
        #expect(throws: LowRankInitError.self) { try LoRAScalingRule.rankStabilized.scale(alpha: 16, rank: 0) }
    }

    @Test("splitting a power-of-four scale is bit-exact: s·B'·A' = B·A")
    func exactSplit() throws {
        var factory = ProblemFactory(seed: 31)
        let problem = try factory.problem(rows: 16, columns: 20, tokens: 30)
        let factors = try LowRankInitializer.solve(problem, method: .exact, options: LowRankInitOptions(rank: 4))
            .factors
        let split = try factors.splittingScale(0.25)
        #expect(split.a.values == factors.a.values.map { $0 * 2 })
        #expect(split.b.values == factors.b.values.map { $0 * 2 })
        let scaled = BLAS.multiply(split.b, split.a).values.map { $0 * 0.25 }
        #expect(scaled == factors.product().values)
    }

    @Test("splitting any positive scale reproduces the product to float32 rounding; bad scales throw")
    func generalSplit() throws {
        var factory = ProblemFactory(seed: 32)
        let problem = try factory.problem(rows: 16, columns: 20, tokens: 30)
        let factors = try LowRankInitializer.solve(problem, method: .svd, options: LowRankInitOptions(rank: 4)).factors
        for scale in [2.0, 16 / 8.0.squareRoot(), 1e-3, 37.5] {
            let split = try factors.splittingScale(scale)
            let scaled = Matrix(BLAS.multiply(DoubleMatrix(split.b), DoubleMatrix(split.a), scale: scale))
            #expect(relativeDifference(scaled, factors.product()) < 1e-6, "scale \(scale)")
        }
        for scale in [0.0, -0.25, .nan, .infinity] {
            #expect(throws: LowRankInitError.self) {
                try factors.splittingScale(scale)
            }
        }
    }
}
