// SPDX-License-Identifier: Apache-2.0

/// Settings shared by the solvers; the defaults follow the QuAILoRA paper and PEFT.
public struct LowRankInitOptions: Equatable, Sendable {
    /// The LoRA rank `r` (the paper's default is 64).
    public var rank: Int
    /// Relative ridge `δ`: the calibrated methods minimise `‖(E − B·A)X‖² + λ‖E − B·A‖²` with
    /// `λ = δ · mean(diag H)` (GPTQ's `percdamp` default 0.01). Adding `λ` times the uncalibrated objective
    /// is the same as damping `H` to `H + λI`; `δ = 0` is the paper's undamped objective. When `H` has an
    /// all-zero diagonal, `λ = δ`.
    public var damping: Double
    /// QuAILoRA alternation steps after the SVD start (the paper uses 20).
    public var steps: Int
    /// LoftQ quantize/SVD alternations (PEFT's `loftq_iter` default is 1).
    public var loftqIterations: Int

    /// Options with the given rank and the defaults for the rest.
    public init(rank: Int, damping: Double = 0.01, steps: Int = 20, loftqIterations: Int = 1) {
        self.rank = rank
        self.damping = damping
        self.steps = steps
        self.loftqIterations = loftqIterations
    }
}
