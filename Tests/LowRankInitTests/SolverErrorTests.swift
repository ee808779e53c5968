// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra
import LowRankInit
import Testing

struct QuantizerBroke: Error {}

@Suite("LowRankInit errors")
struct SolverErrorTests {
    func layer(_ rows: Int = 6, _ columns: Int = 8) throws -> LowRankInitProblem {
        var factory = ProblemFactory(seed: 41)
        return try factory.problem(rows: rows, columns: columns, tokens: 12)
    }

    @Test("a rank of 0 or above min(out, in) is rejected for every method")
    func rank() throws {
        let problem = try layer()
        for method in LowRankInitMethod.allCases {
            for rank in [0, 7] {
                #expect(throws: LowRankInitError.invalidRank(layer: problem.layer, rank: rank, rows: 6, columns: 8)) {
                    try LowRankInitializer.solve(
                        problem, method: method, options: LowRankInitOptions(rank: rank),
                        quantize: ProblemFactory.gridQuantize)
                }
            }
        }
        #expect(throws: Never.self) {
            try LowRankInitializer.solve(problem, method: .exact, options: LowRankInitOptions(rank: 6))
        }
    }

    @Test("non-finite W, Q or H are named with their position; a negative H diagonal is rejected")
    func nonFinite() throws {
        let good = try layer()
        var w = good.weight
        w[2, 3] = .nan
        #expect(throws: LowRankInitError.nonFiniteValue(layer: "L", matrix: "W", row: 2, column: 3)) {
            try LowRankInitProblem(layer: "L", weight: w, base: good.base, gram: good.gram)
        }
        var q = good.base
        q[5, 7] = -.infinity
        #expect(throws: LowRankInitError.nonFiniteValue(layer: "L", matrix: "Q", row: 5, column: 7)) {
            try LowRankInitProblem(layer: "L", weight: good.weight, base: q, gram: good.gram)
        }
        var h = good.gram
        h[1, 4] = .infinity
        #expect(throws: LowRankInitError.nonFiniteValue(layer: "L", matrix: "H", row: 1, column: 4)) {
            try LowRankInitProblem(layer: "L", weight: good.weight, base: good.base, gram: h)
        }
        var negative = good.gram
        negative[3, 3] = -1
        #expect(throws: LowRankInitError.negativeGramDiagonal(layer: "L", index: 3, value: -1)) {
            try LowRankInitProblem(layer: "L", weight: good.weight, base: good.base, gram: negative)
        }
        let message = LowRankInitError.nonFiniteValue(layer: "L", matrix: "H", row: 1, column: 4).description
        #expect(message.contains("layer L") && message.contains("H") && message.contains("non-finite"))
    }

    @Test("shapes of Q and H must match W")
    func shapes() throws {
        let good = try layer()
        #expect(throws: LowRankInitError.shapeMismatch(layer: "L", matrix: "Q", expected: [6, 8], actual: [8, 6])) {
            try LowRankInitProblem(layer: "L", weight: good.weight, base: Matrix(zeros: 8, 6), gram: good.gram)
        }
        #expect(throws: LowRankInitError.shapeMismatch(layer: "L", matrix: "H", expected: [8, 8], actual: [6, 6])) {
            try LowRankInitProblem(layer: "L", weight: good.weight, base: good.base, gram: DoubleMatrix(zeros: 6, 6))
        }
    }

    @Test("negative or non-finite damping, negative steps and zero LoftQ iterations are rejected")
    func options() throws {
        let problem = try layer()
        let bad: [(LowRankInitOptions, String)] = [
            (LowRankInitOptions(rank: 2, damping: -0.1), "damping"),
            (LowRankInitOptions(rank: 2, damping: .nan), "damping"),
            (LowRankInitOptions(rank: 2, steps: -1), "steps"),
            (LowRankInitOptions(rank: 2, loftqIterations: 0), "loftq iterations"),
        ]
        for (options, name) in bad {
            #expect {
                try LowRankInitializer.solve(problem, method: .quailora, options: options)
            } throws: { error in
                guard case .invalidOption(_, let option, _) = error as? LowRankInitError else { return false }
                return option == name
            }
        }
    }

    @Test("loftq needs a quantizer; a throwing, misshapen or non-finite quantizer is reported")
    func quantizer() throws {
        let problem = try layer()
        let options = LowRankInitOptions(rank: 2)
        #expect(throws: LowRankInitError.missingQuantizer(layer: problem.layer)) {
            try LowRankInitializer.solve(problem, method: .loftq, options: options)
        }
        #expect(throws: LowRankInitError.quantizerFailed(layer: problem.layer, message: "QuantizerBroke()")) {
            try LowRankInitializer.solve(problem, method: .loftq, options: options) { _ in throw QuantizerBroke() }
        }
        #expect(
            throws: LowRankInitError.shapeMismatch(
                layer: problem.layer, matrix: "quantizer output", expected: [6, 8], actual: [1, 1])
        ) {
            try LowRankInitializer.solve(problem, method: .loftq, options: options) { _ in Matrix(zeros: 1, 1) }
        }
        #expect(
            throws: LowRankInitError.nonFiniteValue(
                layer: problem.layer, matrix: "quantizer output", row: 0, column: 0)
        ) {
            try LowRankInitializer.solve(problem, method: .loftq, options: options) { m in
                var out = m
                out[0, 0] = .nan
                return out
            }
        }
    }

    @Test("an all-zero H and an exact base (E = 0) solve without NaN")
    func degenerate() throws {
        var factory = ProblemFactory(seed: 42)
        let w = Matrix(factory.gaussian(9, 7))
        let zeroGram = try LowRankInitProblem(
            layer: "dead", weight: w, base: ProblemFactory.gridQuantize(w), gram: DoubleMatrix(zeros: 7, 7))
        let exact = try LowRankInitProblem(
            layer: "lossless", weight: w, base: w, gram: factory.gram(columns: 7, tokens: 20))
        for problem in [zeroGram, exact] {
            for method in [LowRankInitMethod.svd, .quailora, .exact] {
                let result = try LowRankInitializer.solve(problem, method: method, options: LowRankInitOptions(rank: 3))
                #expect(result.errors.relativeCalibrated.isFinite && result.errors.relativeWeight.isFinite)
                #expect(
                    result.factors.a.values.allSatisfy(\.isFinite) && result.factors.b.values.allSatisfy(\.isFinite))
                #expect(!result.fellBackToZero)
            }
        }
        // With H = 0 any positive ridge makes the calibrated methods the uncalibrated optimum.
        let svd = try LowRankInitializer.solve(zeroGram, method: .svd, options: LowRankInitOptions(rank: 3))
        let exact0 = try LowRankInitializer.solve(zeroGram, method: .exact, options: LowRankInitOptions(rank: 3))
        #expect(relativeDifference(exact0.factors.product(), svd.factors.product()) < 1e-5)
    }
}
