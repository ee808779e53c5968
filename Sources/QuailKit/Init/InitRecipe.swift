// SPDX-License-Identifier: Apache-2.0
import LowRankInit
import Quantization

/// The runtimes a bundle is written for.
public enum BundleRuntime: String, CaseIterable, Sendable {
    /// transformers + bitsandbytes + PEFT (training variant).
    case peft
    /// llama.cpp (inference variant).
    case gguf
    /// Both variants.
    case both

    /// The variants written, in bundle order.
    public var variants: [BundleRuntime] { self == .both ? [.peft, .gguf] : [self] }
}

/// What `quail init` solves: the quantization of each variant's base, the adapter shape and the method.
public struct InitRecipe: Sendable {
    /// Which variants to write.
    public var runtime: BundleRuntime
    /// The training variant's base quantization (bitsandbytes NF4/FP4).
    public var peftQuantization: QuantizationTarget
    /// The inference variant's base quantization (a ggml type).
    public var ggufQuantization: QuantizationTarget
    /// The adapted layer kinds.
    public var targets: [AdapterTarget]
    /// The solver and its settings (rank, damping, steps, LoftQ iterations).
    public var method: LowRankInitMethod
    /// Rank, damping, steps, LoftQ iterations.
    public var solver: LowRankInitOptions
    /// LoRA α.
    public var alpha: Double
    /// PEFT's scaling rule (`α/r`, or `α/√r` with rsLoRA). llama.cpp always scales by `alpha/r`; with rsLoRA its
    /// `adapter.lora.alpha` is written as `α·√r` so that both runtimes apply the same factor.
    public var scaling: LoRAScalingRule

    /// Creates a recipe.
    public init(
        runtime: BundleRuntime, peftQuantization: QuantizationTarget, ggufQuantization: QuantizationTarget,
        targets: [AdapterTarget], method: LowRankInitMethod, solver: LowRankInitOptions, alpha: Double,
        scaling: LoRAScalingRule
    ) {
        self.runtime = runtime
        self.peftQuantization = peftQuantization
        self.ggufQuantization = ggufQuantization
        self.targets = targets
        self.method = method
        self.solver = solver
        self.alpha = alpha
        self.scaling = scaling
    }

    /// The factor PEFT multiplies `B·A` by.
    public var scale: Double {
        scaling == .standard ? alpha / Double(solver.rank) : alpha / Double(solver.rank).squareRoot()
    }

    /// The FLOAT32 `adapter.lora.alpha` written for llama.cpp, whose `alpha/r` equals PEFT's scale.
    public var storedGGUFAlpha: Float {
        LlamaCppAdapterWriter.storedAlpha(
            for: LoRAAdapterContents(factors: [:], rank: solver.rank, alpha: alpha, scaling: scaling))
    }

    /// The quantization of `variant`'s base.
    public func quantization(of variant: BundleRuntime) -> QuantizationTarget {
        variant == .gguf ? ggufQuantization : peftQuantization
    }

    /// Checks the recipe against a model before any work.
    ///
    /// - Throws: ``InitError`` for a bad α, a rank above `min(out, in)` of a target, an empty target list,
    ///   quantizations that do not fit their runtime, or LoftQ with more than one iteration.
    public func validate(for hyperparameters: LlamaHyperparameters) throws(InitError) {
        guard alpha > 0, alpha.isFinite else { throw .invalidAlpha(alpha) }
        guard solver.rank >= 1 else {
            throw .invalidSetting(name: "--rank", value: "\(solver.rank)", rule: "must be ≥ 1")
        }
        guard !targets.isEmpty else { throw .unknownTargets([]) }
        for target in targets {
            let shape = LlamaTensorNames.expectedShape(of: target.role, for: hyperparameters)
            let (rows, columns) = (shape[0], shape[1])
            guard solver.rank <= min(rows, columns) else {
                throw .rankTooLarge(rank: solver.rank, module: target.peftName, rows: rows, columns: columns)
            }
        }
        guard solver.damping >= 0, solver.damping.isFinite else {
            throw .invalidSetting(name: "--damping", value: "\(solver.damping)", rule: "must be finite and ≥ 0")
        }
        guard solver.steps >= 0 else {
            throw .invalidSetting(name: "--steps", value: "\(solver.steps)", rule: "must be ≥ 0")
        }
        if runtime != .gguf, !peftQuantization.isBitsAndBytes4Bit {
            throw .invalidSetting(
                name: "--quant", value: peftQuantization.name, rule: "the PEFT variant needs nf4 or fp4")
        }
        if runtime != .peft, ggufQuantization.ggmlType == nil {
            throw .invalidSetting(
                name: "--gguf-quant", value: ggufQuantization.name, rule: "the GGUF variant needs a ggml type")
        }
        if method == .loftq, solver.loftqIterations != 1 {
            throw .invalidSetting(
                name: "--loftq-iterations", value: "\(solver.loftqIterations)",
                rule: "init writes the plain quantized base, so it runs LoftQ with 1 iteration (PEFT's default)")
        }
    }
}

extension QuantizationTarget {
    /// True for bitsandbytes NF4/FP4.
    var isBitsAndBytes4Bit: Bool {
        if case .bitsAndBytes4Bit = self { return true }
        return false
    }
}
