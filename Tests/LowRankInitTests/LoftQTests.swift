// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra
import LowRankInit
import Testing

/// Records what a quantizer was asked to quantize.
final class RecordingQuantizer: @unchecked Sendable {
    var inputs: [Matrix] = []
    func callAsFunction(_ m: Matrix) -> Matrix {
        inputs.append(m)
        return ProblemFactory.gridQuantize(m)
    }
}

@Suite("LoftQ")
struct LoftQTests {
    @Test("one iteration quantizes W and returns the svd solution with the same base")
    func oneIterationIsSVD() throws {
        var factory = ProblemFactory(seed: 21)
        let problem = try factory.problem(rows: 18, columns: 26, tokens: 40)
        let quantizer = RecordingQuantizer()
        let options = LowRankInitOptions(rank: 3)
        let loftq = try LowRankInitializer.solve(
            problem, method: .loftq, options: options, quantize: quantizer.callAsFunction)
        let svd = try LowRankInitializer.solve(problem, method: .svd, options: options)
        #expect(quantizer.inputs == [problem.weight])
        #expect(loftq.base == problem.base)
        #expect(relativeDifference(loftq.factors.product(), svd.factors.product()) < 1e-6)
        #expect(abs(loftq.errors.calibrated - svd.errors.calibrated) <= 1e-9 * svd.errors.zeroInitCalibrated)
    }

    @Test("T iterations requantize W − B·A of the previous iteration; errors are measured against the new base")
    func iterationsChangeTheBase() throws {
        var factory = ProblemFactory(seed: 22)
        let problem = try factory.problem(rows: 20, columns: 24, tokens: 60)
        let quantizer = RecordingQuantizer()
        let result = try LowRankInitializer.solve(
            problem, method: .loftq, options: LowRankInitOptions(rank: 4, loftqIterations: 3),
            quantize: quantizer.callAsFunction)
        #expect(quantizer.inputs.count == 3)
        #expect(quantizer.inputs[0] == problem.weight)
        #expect(quantizer.inputs[1] != problem.weight)
        let base = try #require(result.base)
        #expect(base == ProblemFactory.gridQuantize(quantizer.inputs[2]))
        let direct = directErrors(problem, result.factors, base: base)
        #expect(abs(result.errors.calibrated - direct.calibrated) <= 1e-10 * result.errors.zeroInitCalibrated)
        #expect(abs(result.errors.weight - direct.weight) <= 1e-10 * result.errors.zeroInitWeight)
        #expect(result.errors.relativeWeight < 1)
    }

    @Test("a layer made worse than plain QLoRA falls back to zero factors and keeps the caller's base")
    func fallbackToZero() throws {
        var factory = ProblemFactory(seed: 23)
        let problem = try factory.problem(rows: 12, columns: 16, tokens: 40)
        // A 'quantizer' that flips the sign of everything: W − Q' is far worse than W − Q.
        let flip: LowRankInitializer.Requantizer = { m in
            Matrix(rows: m.rows, columns: m.columns, values: m.values.map { -$0 })
        }
        let result = try LowRankInitializer.solve(
            problem, method: .loftq, options: LowRankInitOptions(rank: 2), quantize: flip)
        #expect(result.fellBackToZero)
        #expect(result.base == nil)
        #expect(result.factors == .zero(rows: 12, columns: 16, rank: 2))
        #expect(result.errors.relativeCalibrated == 1)
        let rejected = try #require(result.rejectedErrors)
        #expect(rejected.relativeCalibrated > 1)
    }
}
