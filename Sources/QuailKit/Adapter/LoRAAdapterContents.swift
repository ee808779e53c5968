// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra
import LowRankInit

/// A LoRA adapter to write: one pair of factors per adapted linear and the scaling a runtime applies to `B·A`.
///
/// The factors are stored exactly as given (the caller has already folded any scale into them, e.g. with
/// ``LowRankFactors/splittingScale(_:)``). Both ``PEFTAdapterWriter`` and ``LlamaCppAdapterWriter`` take this
/// value and check it against the model before writing.
public struct LoRAAdapterContents: Sendable {
    /// The factors, PEFT orientation (`a` is `r × in`, `b` is `out × r` in HF row order), keyed by the adapted HF
    /// weight name (`model.layers.0.self_attn.q_proj.weight`).
    public let factors: [String: LowRankFactors]
    /// The rank `r` of every pair.
    public let rank: Int
    /// `lora_alpha`.
    public let alpha: Double
    /// `α/r`, or `α/√r` (PEFT `use_rslora`).
    public let scaling: LoRAScalingRule

    /// Describes an adapter; nothing is checked until it is written.
    public init(factors: [String: LowRankFactors], rank: Int, alpha: Double, scaling: LoRAScalingRule = .standard) {
        self.factors = factors
        self.rank = rank
        self.alpha = alpha
        self.scaling = scaling
    }

    /// The adapted HF weight names in natural (layer) order.
    public var weightNames: [String] { LlamaTensorNames.naturallySorted(Array(factors.keys)) }

    /// The distinct module short names (`q_proj`, `down_proj`, …), sorted: PEFT's `target_modules`.
    public var targetModules: [String] {
        Array(Set(weightNames.compactMap { Self.moduleName(of: $0).split(separator: ".").last.map(String.init) }))
            .sorted()
    }

    /// The scale PEFT applies to `B·A` (``LoRAAdapter/peftScale(alpha:rank:rsLoRA:)``); the llama.cpp writer
    /// stores an `adapter.lora.alpha` that gives the same float.
    public var scale: Float {
        LoRAAdapter.peftScale(alpha: alpha, rank: rank, rsLoRA: scaling == .rankStabilized)
    }

    /// `model.layers.0.self_attn.q_proj` for `model.layers.0.self_attn.q_proj.weight`.
    static func moduleName(of weightName: String) -> String {
        weightName.hasSuffix(".weight") ? String(weightName.dropLast(".weight".count)) : weightName
    }

    /// Checks rank, alpha, targets, shapes and values against a model; `path` names the destination in errors.
    func validate(for hyperparameters: LlamaHyperparameters, path: String) throws(AdapterWriteError) {
        guard !factors.isEmpty else { throw .emptyAdapter(path: path) }
        guard rank > 0 else { throw .invalidRank(path: path, rank: rank) }
        do {
            _ = try scaling.scale(alpha: alpha, rank: rank)
        } catch {
            throw .invalidAlpha(path: path, alpha: alpha)
        }
        for name in weightNames {
            guard let pair = factors[name], let shape = LoRAAdapter.adaptedShape(of: name, for: hyperparameters)
            else { throw .unknownTarget(path: path, tensor: name) }
            guard pair.rank == rank else {
                throw .rankMismatch(path: path, tensor: name, expected: rank, actual: pair.rank)
            }
            guard pair.b.rows == shape[0], pair.a.columns == shape[1] else {
                throw .shapeMismatch(path: path, tensor: name, expected: shape, actual: [pair.b.rows, pair.a.columns])
            }
            for (label, matrix) in [("lora_A", pair.a), ("lora_B", pair.b)] {
                if let index = matrix.values.firstIndex(where: { !$0.isFinite }) {
                    throw .nonFiniteValue(path: path, tensor: name, factor: label, index: index)
                }
            }
        }
    }
}
