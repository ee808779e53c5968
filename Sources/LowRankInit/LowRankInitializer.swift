// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// Solves the LoRA factors of one layer so that `Q + B·A` approximates `W` (see formats/lora-init.md).
public enum LowRankInitializer {
    /// A quantize-then-dequantize function for `loftq`: it receives an `out × in` matrix and returns the
    /// dequantized values of its quantization (same shape).
    public typealias Requantizer = (Matrix) throws -> Matrix

    /// Solves `problem` with `method`.
    ///
    /// All products are computed in float64 from the float32 inputs; the factors are rounded to float32
    /// once at the end and the reported errors are those of the rounded factors. If the result's
    /// calibrated error exceeds plain QLoRA's (beyond a 1e-9 relative rounding margin), zero factors are
    /// returned with ``LowRankInitResult/rejectedErrors`` set.
    /// - Parameters:
    ///   - quantize: required for `loftq` (the same quantizer the caller used to make `Q`); ignored otherwise.
    /// - Throws: ``LowRankInitError/invalidRank(layer:rank:rows:columns:)``,
    ///   ``LowRankInitError/invalidOption(layer:name:value:)``, ``LowRankInitError/missingQuantizer(layer:)``,
    ///   ``LowRankInitError/quantizerFailed(layer:message:)``,
    ///   ``LowRankInitError/shapeMismatch(layer:matrix:expected:actual:)``
    ///   and ``LowRankInitError/nonFiniteValue(layer:matrix:row:column:)`` for the quantizer output,
    ///   ``LowRankInitError/linearAlgebra(layer:_:)`` when LAPACK fails.
    public static func solve(
        _ problem: LowRankInitProblem, method: LowRankInitMethod, options: LowRankInitOptions,
        quantize: Requantizer? = nil
    ) throws(LowRankInitError) -> LowRankInitResult {
        let layer = problem.layer
        let (rows, columns, rank) = (problem.weight.rows, problem.weight.columns, options.rank)
        guard rank >= 1, rank <= min(rows, columns) else {
            throw .invalidRank(layer: layer, rank: rank, rows: rows, columns: columns)
        }
        guard options.damping >= 0, options.damping.isFinite else {
            throw .invalidOption(layer: layer, name: "damping", value: options.damping)
        }
        guard options.steps >= 0 else {
            throw .invalidOption(layer: layer, name: "steps", value: Double(options.steps))
        }
        guard options.loftqIterations >= 1 else {
            throw .invalidOption(layer: layer, name: "loftq iterations", value: Double(options.loftqIterations))
        }
        let h = problem.gram
        let weight = DoubleMatrix(problem.weight)
        let residual = weight.subtracting(DoubleMatrix(problem.base))
        let reference = ResidualEnergy(residual, h)
        let lambda = method == .quailora || method == .exact ? ridge(h, damping: options.damping) : 0
        var factors = LowRankFactors.zero(rows: rows, columns: columns, rank: rank)
        var base: Matrix?
        var history: [Double] = []
        var finalResidual = reference
        switch method {
        case .zero:
            break
        case .svd, .exact:
            let weighting = method == .exact ? damped(h, lambda) : nil
            factors = try wrappingLAPACK(layer) { () throws(LinearAlgebraError) in
                try SubspaceProjection.dominant(residual, weighting: weighting, rank: rank)
                    .balancedFactors(of: residual)
            }
        case .quailora:
            (factors, history) = try wrappingLAPACK(layer) { () throws(LinearAlgebraError) in
                let start = try SubspaceProjection.dominant(residual, weighting: nil, rank: rank)
                let run = try SubspaceIteration.run(
                    residual, damped: damped(h, lambda), start: start, steps: options.steps)
                return (try run.projection.balancedFactors(of: residual), run.history)
            }
        case .loftq:
            guard let quantize else { throw .missingQuantizer(layer: layer) }
            let outcome = try LoftQ.run(
                problem, rank: rank, iterations: options.loftqIterations, quantize: quantize)
            factors = outcome.factors
            base = outcome.base
            finalResidual = ResidualEnergy(weight.subtracting(DoubleMatrix(outcome.base)), h)
        }
        let zeroErrors = reference.errors(of: nil, relativeTo: reference)
        let errors = finalResidual.errors(of: factors, relativeTo: reference)
        if errors.calibrated > errors.zeroInitCalibrated * (1 + 1e-9) {
            return LowRankInitResult(
                method: method, factors: .zero(rows: rows, columns: columns, rank: rank), base: nil,
                errors: zeroErrors, rejectedErrors: errors, damping: lambda, objectiveHistory: history)
        }
        return LowRankInitResult(
            method: method, factors: factors, base: base, errors: errors, rejectedErrors: nil, damping: lambda,
            objectiveHistory: history)
    }

    /// Runs `body`, reporting a LAPACK failure as ``LowRankInitError/linearAlgebra(layer:_:)``.
    static func wrappingLAPACK<T>(
        _ layer: String, _ body: () throws(LinearAlgebraError) -> T
    ) throws(LowRankInitError) -> T {
        do { return try body() } catch { throw .linearAlgebra(layer: layer, error) }
    }

    /// `λ = δ · mean(diag H)`, or `δ` when the diagonal is all zero.
    static func ridge(_ h: DoubleMatrix, damping: Double) -> Double {
        guard h.rows > 0 else { return damping }
        let mean = (0..<h.rows).reduce(0.0) { $0 + h[$1, $1] } / Double(h.rows)
        return mean > 0 ? damping * mean : damping
    }

    /// `H + λI`.
    static func damped(_ h: DoubleMatrix, _ lambda: Double) -> DoubleMatrix {
        var result = h
        for i in 0..<h.rows { result[i, i] += lambda }
        return result
    }
}
