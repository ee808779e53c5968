// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The report of `quail init`, written into the bundle as `quail.json` (formats/bundle.md) and printed as a table.
public struct InitReport: Sendable {
    /// The variants with their per-layer metrics.
    public let variants: [BundleVariant]
    /// Perplexity of the full-precision model, when evaluated.
    public let fullPrecisionPerplexity: Double?
    /// The provenance document (`quail.json`).
    public let json: JSONValue
    /// Wall seconds of the whole init.
    public let seconds: Double
    private let recipe: InitRecipe

    init(
        model: URL, calibration: CalibrationProvenance,
        recipe: InitRecipe, variants: [BundleVariant], evaluation: InitPipeline.Evaluation?,
        fullPrecisionPerplexity: Double?, seconds: Double
    ) {
        self.variants = variants
        self.fullPrecisionPerplexity = fullPrecisionPerplexity
        self.seconds = seconds
        self.recipe = recipe
        func number(_ x: Double) -> JSONValue { x.isFinite ? .number(x) : .null }
        let calibrationJSON: JSONValue = .object(
            calibration.metadata.sorted { $0.key < $1.key }.filter { $0.key != "format" && $0.key != "format_version" }
                .map { ($0.key, .string($0.value)) })
        let recipeJSON: JSONValue = .object([
            ("method", .string(recipe.method.rawValue)), ("rank", .integer(recipe.solver.rank)),
            ("alpha", number(recipe.alpha)), ("scaling", .string(recipe.scaling.rawValue)),
            ("scale", number(recipe.scale)), ("targets", .array(recipe.targets.map { .string($0.rawValue) })),
            ("damping", number(recipe.solver.damping)), ("steps", .integer(recipe.solver.steps)),
            ("loftq_iterations", .integer(recipe.solver.loftqIterations)),
        ])
        let variantsJSON: [JSONValue] = variants.map { v in
            let alpha = v.runtime == .gguf ? Double(recipe.storedGGUFAlpha) : recipe.alpha
            return .object([
                ("runtime", .string(v.runtime.rawValue)), ("base", .string(v.basePath)),
                ("adapter", .string(v.adapterPath)), ("plot", .string(v.plotPath)),
                ("quantization", .string(v.quantization)), ("adapter_alpha", number(alpha)),
                ("quantize_seconds", number(v.quantizeSeconds)), ("solve_seconds", number(v.solveSeconds)),
                ("mean_relative_calibrated_error", number(v.meanRelativeCalibratedError)),
                ("mean_relative_weight_error", number(v.meanRelativeWeightError)),
                ("fallbacks", .array(v.fallbacks.map { .string($0) })),
                (
                    "perplexity",
                    v.perplexity.map { .object([("base", number($0.base)), ("adapted", number($0.adapted))]) } ?? .null
                ),
                (
                    "compatibility",
                    v.compatibility.map { c in
                        .object([
                            ("adapted_layers", .integer(c.adaptedLayers)),
                            ("requested_layers", .integer(c.requestedLayers)),
                            ("largest_probe_deviation", number(c.largestProbeDeviation)),
                            ("cross_runtime_ratio", c.crossRuntimeRatio.map(number) ?? .null),
                        ])
                    } ?? .null
                ),
                (
                    "layers",
                    .array(
                        v.layers.map { m in
                            .object([
                                ("module", .string(m.module)), ("layer", .integer(m.layer)),
                                ("target", .string(m.target.rawValue)),
                                ("relative_calibrated_error", number(m.relativeCalibratedError)),
                                ("relative_weight_error", number(m.relativeWeightError)),
                                ("fell_back_to_zero", .bool(m.fellBackToZero)), ("seconds", number(m.seconds)),
                            ])
                        })
                ),
            ])
        }
        json = .object([
            ("format", .string("quail-bundle")), ("format_version", .integer(1)),
            ("quail_version", .string(QuailVersion.string)),
            (
                "base_model",
                .object([
                    ("name", .string(model.lastPathComponent)), ("digest", .string(calibration.modelDigest)),
                    ("tokenizer_digest", .string(calibration.tokenizerDigest)),
                ])
            ),
            ("calibration", calibrationJSON), ("recipe", recipeJSON),
            (
                "evaluation",
                evaluation.map { e in
                    .object([
                        ("text", .string(e.text.lastPathComponent)), ("ctx", .integer(e.contextLength)),
                        ("chunks", e.chunkLimit.map { .integer($0) } ?? .null),
                        ("full_precision_perplexity", fullPrecisionPerplexity.map(number) ?? .null),
                    ])
                } ?? .null
            ),
            ("variants", .array(variantsJSON)), ("seconds", number(seconds)),
        ])
    }

    /// The human report: one summary line per variant, perplexities, and a block × layer table of relative
    /// calibrated errors.
    public var text: String {
        var lines: [String] = []
        lines.append(
            "init \(recipe.method.rawValue), r = \(recipe.solver.rank), α = \(format(recipe.alpha)), scale "
                + "\(format(recipe.scale)) (\(recipe.scaling.rawValue)), targets "
                + recipe.targets.map(\.rawValue).joined(separator: ","))
        for v in variants {
            lines.append(
                "\(v.runtime.rawValue): base \(v.basePath) (\(v.quantization)), adapter \(v.adapterPath): "
                    + "\(v.layers.count) layers, mean relative calibrated error "
                    + String(format: "%.4f", v.meanRelativeCalibratedError) + ", weight error "
                    + String(format: "%.4f", v.meanRelativeWeightError) + ", solved in "
                    + String(format: "%.1f s", v.solveSeconds))
            if !v.fallbacks.isEmpty {
                lines.append("  fell back to zero-init: " + v.fallbacks.joined(separator: ", "))
            }
        }
        if let fullPrecisionPerplexity {
            lines.append("perplexity: W " + String(format: "%.4f", fullPrecisionPerplexity))
            for v in variants {
                if let p = v.perplexity {
                    lines.append(
                        "  \(v.runtime.rawValue): Q " + String(format: "%.4f", p.base) + ", Q + AB^T "
                            + String(format: "%.4f", p.adapted))
                }
            }
        }
        for v in variants {
            lines.append("")
            lines.append("relative calibrated error per layer (\(v.runtime.rawValue), \(v.quantization))")
            let targets = recipe.targets
            lines.append(
                "block " + targets.map { $0.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) }.joined())
            let byLayer = Dictionary(grouping: v.layers, by: \.layer)
            for layer in byLayer.keys.sorted() {
                let row = targets.map { target in
                    let m = byLayer[layer]?.first { $0.target == target }
                    return
                        (m.map { String(format: "%.4f", $0.relativeCalibratedError) + ($0.fellBackToZero ? "*" : " ") }
                        ?? "-").padding(toLength: 8, withPad: " ", startingAt: 0)
                }
                lines.append(String(layer).padding(toLength: 6, withPad: " ", startingAt: 0) + row.joined())
            }
        }
        lines.append(String(format: "done in %.1f s", seconds))
        return lines.joined(separator: "\n")
    }

    private func format(_ x: Double) -> String { String(format: "%g", x) }
}
