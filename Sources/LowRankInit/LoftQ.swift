// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// LoftQ's alternation as PEFT's `loftq_init` (`src/peft/utils/loftq_utils.py`) runs it: starting from
/// `res = W`, quantize `res`, take the rank-`r` SVD of `W − Q_t` with the square-root split, set
/// `res = W − B·A`, and repeat; the last `Q_t` becomes the base.
enum LoftQ {
    /// The final factors and the dequantized base they belong to.
    static func run(
        _ problem: LowRankInitProblem, rank: Int, iterations: Int, quantize: LowRankInitializer.Requantizer
    ) throws(LowRankInitError) -> (factors: LowRankFactors, base: Matrix) {
        let layer = problem.layer
        let weight = DoubleMatrix(problem.weight)
        var target = problem.weight
        var factors = LowRankFactors.zero(rows: weight.rows, columns: weight.columns, rank: rank)
        var base = problem.base
        for iteration in 1...iterations {
            base = try requantized(target, layer: layer, quantize: quantize)
            let residual = weight.subtracting(DoubleMatrix(base))
            factors = try LowRankInitializer.wrappingLAPACK(layer) { () throws(LinearAlgebraError) in
                try SubspaceProjection.dominant(residual, weighting: nil, rank: rank).balancedFactors(of: residual)
            }
            if iteration < iterations {
                let correction = BLAS.multiply(DoubleMatrix(factors.b), DoubleMatrix(factors.a))
                target = Matrix(weight.subtracting(correction))
            }
        }
        return (factors, base)
    }

    /// Calls the caller's quantizer and checks that it returned a finite matrix of the same shape.
    static func requantized(
        _ matrix: Matrix, layer: String, quantize: LowRankInitializer.Requantizer
    ) throws(LowRankInitError) -> Matrix {
        let output: Matrix
        do { output = try quantize(matrix) } catch {
            throw .quantizerFailed(layer: layer, message: String(describing: error))
        }
        guard output.rows == matrix.rows, output.columns == matrix.columns else {
            throw .shapeMismatch(
                layer: layer, matrix: "quantizer output", expected: [matrix.rows, matrix.columns],
                actual: [output.rows, output.columns])
        }
        try LowRankInitProblem.requireFinite(
            output.values, columns: output.columns, layer: layer, matrix: "quantizer output")
        return output
    }
}
