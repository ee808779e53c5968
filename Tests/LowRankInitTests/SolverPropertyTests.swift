// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra
import LowRankInit
import Testing

/// The calibrated optimum `Σ_{i>r} σ_i(E·L)²` for `H = L·Lᵀ`, with `L` from the eigendecomposition of `H`
/// (valid for singular `H`) and a full SVD: an independent route to the number `exact` must reach.
func closedFormOptimum(_ problem: LowRankInitProblem, rank: Int) throws -> Double {
    let e = DoubleMatrix(problem.weight).subtracting(DoubleMatrix(problem.base))
    let eigen = try LAPACK.symmetricEigendecomposition(problem.gram)
    var root = eigen.vectors.transposed()  // columns are eigenvectors
    for j in 0..<root.columns {
        let scale = max(eigen.values[j], 0).squareRoot()
        for i in 0..<root.rows { root[i, j] *= scale }
    }
    let sigma = try LAPACK.singularValueDecomposition(BLAS.multiply(e, root)).singularValues
    return sigma.dropFirst(rank).reduce(0) { $0 + $1 * $1 }
}

@Suite("LowRankInit solver properties")
struct SolverPropertyTests {
    static let shapes = [(24, 40), (40, 24), (32, 32)]

    @Test(
        "a planted rank-r residual W − Q = B·A is recovered by svd, quailora and exact for any H",
        arguments: shapes)
    func plantedSolution(shape: (Int, Int)) throws {
        var factory = ProblemFactory(seed: 11)
        let (rows, columns) = shape
        let rank = 5
        let base = Matrix(factory.gaussian(rows, columns))
        let negatedPlanted = BLAS.multiply(
            factory.gaussian(rows, rank), factory.gaussian(rank, columns, scale: 0.3), scale: -1)
        let weight = Matrix(DoubleMatrix(base).subtracting(negatedPlanted))  // Q + B·A, rounded to float32
        for tokens in [8, 200] {
            let problem = try LowRankInitProblem(
                layer: "planted", weight: weight, base: base, gram: factory.gram(columns: columns, tokens: tokens))
            for method in [LowRankInitMethod.svd, .quailora, .exact] {
                for damping in [0.0, 0.01] {
                    let result = try LowRankInitializer.solve(
                        problem, method: method, options: LowRankInitOptions(rank: rank, damping: damping))
                    #expect(result.errors.relativeCalibrated < 1e-9, "\(method) tokens \(tokens) δ \(damping)")
                    #expect(result.errors.relativeWeight < 1e-9, "\(method) tokens \(tokens) δ \(damping)")
                    #expect(!result.fellBackToZero)
                }
            }
        }
    }

    @Test(
        "the quailora objective never increases across alternation steps and starts at the svd solution",
        arguments: shapes)
    func monotoneAlternation(shape: (Int, Int)) throws {
        var factory = ProblemFactory(seed: 12)
        for tokens in [10, 300] {
            let problem = try factory.problem(rows: shape.0, columns: shape.1, tokens: tokens)
            for damping in [0.0, 0.01, 1.0] {
                let options = LowRankInitOptions(rank: 4, damping: damping, steps: 20)
                let result = try LowRankInitializer.solve(problem, method: .quailora, options: options)
                let history = result.objectiveHistory
                #expect(history.count == 21)
                for (before, after) in zip(history, history.dropFirst()) {
                    #expect(after <= before + 1e-12 * history[0], "tokens \(tokens) δ \(damping)")
                }
                #expect(history.last! < history.first!, "tokens \(tokens) δ \(damping): no progress")
                let svd = try LowRankInitializer.solve(problem, method: .svd, options: options)
                let svdObjective = svd.errors.calibrated + result.damping * svd.errors.weight
                #expect(abs(history[0] - svdObjective) <= 1e-6 * history[0])
                #expect(abs(history.last! - result.objective) <= 1e-6 * history[0])
            }
        }
    }

    @Test(
        "calibrated error ordering exact ≤ quailora ≤ svd ≤ zero, including singular H (fewer tokens than inputs)",
        arguments: shapes)
    func ordering(shape: (Int, Int)) throws {
        var factory = ProblemFactory(seed: 13)
        for tokens in [6, 30, 500] {
            let problem = try factory.problem(rows: shape.0, columns: shape.1, tokens: tokens)
            for damping in [0.0, 0.01] {
                let options = LowRankInitOptions(rank: 4, damping: damping)
                let solved = try [LowRankInitMethod.exact, .quailora, .svd, .zero].map {
                    try LowRankInitializer.solve(problem, method: $0, options: options)
                }
                // Undamped: the calibrated error itself; damped: the objective the methods minimise.
                let lambda = solved[0].damping
                let values = solved.map { $0.errors.calibrated + lambda * $0.errors.weight }
                let slack = 1e-6 * values[3]
                #expect(values[0] <= values[1] + slack, "tokens \(tokens) δ \(damping)")
                #expect(values[1] <= values[2] + slack, "tokens \(tokens) δ \(damping)")
                #expect(values[2] <= values[3] + slack, "tokens \(tokens) δ \(damping)")
                #expect(solved[3].errors.relativeCalibrated == 1 && solved[3].errors.relativeWeight == 1)
                #expect(solved.allSatisfy { !$0.fellBackToZero })
            }
        }
    }

    @Test(
        "undamped exact reaches the closed-form optimum Σ_{i>r} σ_i(E·L)², also for singular H (Cholesky recovery)",
        arguments: shapes)
    func exactMatchesClosedForm(shape: (Int, Int)) throws {
        var factory = ProblemFactory(seed: 14)
        for tokens in [7, 400] {
            let problem = try factory.problem(rows: shape.0, columns: shape.1, tokens: tokens)
            let result = try LowRankInitializer.solve(
                problem, method: .exact, options: LowRankInitOptions(rank: 6, damping: 0))
            let optimum = try closedFormOptimum(problem, rank: 6)
            #expect(
                abs(result.errors.calibrated - optimum) <= 1e-6 * result.errors.zeroInitCalibrated,
                "tokens \(tokens): \(result.errors.calibrated) vs \(optimum)")
        }
    }

    @Test("with H = c·I the calibrated methods return the svd product (paper §3.3)")
    func isotropicGram() throws {
        var factory = ProblemFactory(seed: 15)
        let w = Matrix(factory.gaussian(20, 30))
        var h = DoubleMatrix(zeros: 30, 30)
        for i in 0..<30 { h[i, i] = 2.5 }
        let problem = try LowRankInitProblem(layer: "iso", weight: w, base: ProblemFactory.gridQuantize(w), gram: h)
        let options = LowRankInitOptions(rank: 3)
        let svd = try LowRankInitializer.solve(problem, method: .svd, options: options).factors.product()
        for method in [LowRankInitMethod.quailora, .exact] {
            let product = try LowRankInitializer.solve(problem, method: method, options: options).factors.product()
            #expect(relativeDifference(product, svd) < 1e-5, "\(method)")
        }
    }

    @Test("reported errors equal the directly computed tr(R·H·Rᵀ) and ‖R‖²")
    func reportedErrorsAreDirect() throws {
        var factory = ProblemFactory(seed: 16)
        let problem = try factory.problem(rows: 28, columns: 36, tokens: 50)
        for method in [LowRankInitMethod.svd, .quailora, .exact] {
            let result = try LowRankInitializer.solve(problem, method: method, options: LowRankInitOptions(rank: 5))
            let direct = directErrors(problem, result.factors)
            #expect(abs(result.errors.calibrated - direct.calibrated) <= 1e-10 * result.errors.zeroInitCalibrated)
            #expect(abs(result.errors.weight - direct.weight) <= 1e-10 * result.errors.zeroInitWeight)
            // The factors are balanced: BᵀB = AAᵀ = S (diagonal).
            let btb = BLAS.gram(DoubleMatrix(result.factors.b), transpose: true)
            let aat = BLAS.gram(DoubleMatrix(result.factors.a))
            for i in 0..<5 {
                for j in 0..<5 {
                    #expect(abs(btb[i, j] - aat[i, j]) <= 1e-5 * btb[0, 0])
                    if i != j { #expect(abs(btb[i, j]) <= 1e-5 * btb[0, 0]) }
                }
            }
        }
    }

    @Test("zero returns zero factors with the plain QLoRA errors")
    func zeroMethod() throws {
        var factory = ProblemFactory(seed: 17)
        let problem = try factory.problem(rows: 10, columns: 12, tokens: 20)
        let result = try LowRankInitializer.solve(problem, method: .zero, options: LowRankInitOptions(rank: 2))
        #expect(result.factors.a.values.allSatisfy { $0 == 0 } && result.factors.b.values.allSatisfy { $0 == 0 })
        #expect(result.factors.a.rows == 2 && result.factors.a.columns == 12 && result.factors.b.rows == 10)
        let direct = directErrors(problem, result.factors)
        #expect(abs(result.errors.calibrated - direct.calibrated) <= 1e-12 * direct.calibrated)
        #expect(result.errors.relativeCalibrated == 1 && result.base == nil && !result.fellBackToZero)
    }
}
