// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import LowRankInit
import Packaging
import TensorCore
import Transformer

/// `quail init`: quantize → solve every adapted layer against its base's actual quantization error → write a
/// bundle with one variant per runtime (formats/bundle.md), check the adapters, optionally evaluate and sign, and
/// move the bundle into place only when all of that succeeded.
public enum InitPipeline {
    /// Where the Gram matrices come from.
    public enum Statistics {
        /// A statistics file (checked against the model's digests).
        case file(CalibrationStatisticsFile)
        /// A calibration run made for this init.
        case computed(CalibrationRun.Result)
    }

    /// Perplexity evaluation of W, each base and each base + adapter.
    public struct Evaluation: Sendable {
        /// The held-out text.
        public var text: URL
        /// Tokens per chunk.
        public var contextLength: Int
        /// Chunks at most.
        public var chunkLimit: Int?

        /// Creates an evaluation request.
        public init(text: URL, contextLength: Int = 512, chunkLimit: Int? = nil) {
            self.text = text
            self.contextLength = contextLength
            self.chunkLimit = chunkLimit
        }
    }

    /// Everything besides the model, the statistics and the destination.
    public struct Options: Sendable {
        /// What to solve and write.
        public var recipe: InitRecipe
        /// Evaluate perplexities into the report.
        public var evaluation: Evaluation?
        /// Sign the bundle with this private key before it is moved into place.
        public var signingKey: URL?
        /// Replace an existing bundle.
        public var overwrite: Bool

        /// Creates options.
        public init(recipe: InitRecipe, evaluation: Evaluation? = nil, signingKey: URL? = nil, overwrite: Bool = false)
        {
            self.recipe = recipe
            self.evaluation = evaluation
            self.signingKey = signingKey
            self.overwrite = overwrite
        }
    }

    /// Progress reporters for the phases (`quantize peft`, `solve`, `eval gguf+adapter`, `sign`).
    public typealias ProgressFactory = (String) -> any ProgressReporting

    /// Runs the pipeline and returns the report (also written as `quail.json`).
    ///
    /// - Throws: ``InitError`` and ``CalibrationError`` before any work for bad settings or statistics of another
    ///   model; solver, quantizer, writer, evaluation and signing errors. Nothing is left at `output` on failure.
    public static func run(
        model: URL, statistics: Statistics, output: URL, options: Options,
        progress: ProgressFactory = { _ in SilentProgress() }
    ) throws -> InitReport {
        let clock = ContinuousClock()
        let started = clock.now
        let recipe = options.recipe
        let source = try CheckpointWeights(contentsOf: model)
        try recipe.validate(for: source.hyperparameters)
        let evaluationText = try options.evaluation.map { try EvaluationText($0, model: source) }
        let provenance: CalibrationProvenance
        let gram: (GramKey) -> DoubleMatrix
        switch statistics {
        case .file(let file):
            try file.check(
                configuration: source.configuration, modelDigest: try CheckpointDigest.model(at: model),
                tokenizerDigest: CheckpointDigest.tokenizer(try source.tokenizerMetadata()))
            provenance = file.provenance
            gram = file.gram
        case .computed(let result):
            provenance = result.provenance
            gram = { key in result.grams[key] ?? DoubleMatrix(zeros: 0, 0) }
        }
        let signingKey = try options.signingKey.map { try SigningKey(contentsOf: $0) }
        let atomic = try AtomicOutput(destination: output, isDirectory: true, overwrite: options.overwrite)
        let root = atomic.temporaryURL

        var variants: [BundleVariant] = []
        var bases: [CheckpointWeights] = []
        for runtime in recipe.runtime.variants {
            let target = recipe.quantization(of: runtime)
            var variant = BundleVariant(runtime: runtime, quantization: target.description)
            let destination = root.appendingPathComponent(variant.basePath)
            try FileManager.default.createDirectory(
                at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            let start = clock.now
            _ = try CheckpointQuantizer.quantize(
                from: model, to: destination, options: .init(recipe: QuantizationRecipe(target: target)),
                progress: progress("quantize \(runtime.rawValue)"))
            variant.quantizeSeconds = (clock.now - start).seconds
            bases.append(try CheckpointWeights(contentsOf: destination))
            variants.append(variant)
        }

        let solved = try solveLayers(
            source: source, bases: bases, variants: &variants, gram: gram, recipe: recipe,
            progress: progress("solve"))
        for index in variants.indices {
            try AdapterFiles.write(
                solved.updates[index], runtime: variants[index].runtime, recipe: recipe,
                hyperparameters: bases[index].hyperparameters,
                to: root.appendingPathComponent(variants[index].adapterPath))
            var outcome = try AdapterCompatibility.check(
                adapterAt: root.appendingPathComponent(variants[index].adapterPath),
                path: output.appendingPathComponent(variants[index].adapterPath).path, base: bases[index],
                solved: solved.updates[index],
                zeroAllowed: recipe.method == .zero
                    ? Set(variants[index].layers.map(\.module)) : variants[index].zeroCorrectionAllowed)
            outcome.crossRuntimeRatio = solved.crossRuntimeRatio
            variants[index].compatibility = outcome
            try InitErrorPlot(
                title: "\(recipe.method.rawValue) on \(variants[index].quantization): relative calibrated error",
                points: variants[index].layers.map {
                    .init(
                        layer: $0.layer, module: $0.target.rawValue, relativeCalibratedError: $0.relativeCalibratedError
                    )
                }
            ).svg().write(to: root.appendingPathComponent(variants[index].plotPath), atomically: false, encoding: .utf8)
        }

        var fullPrecisionPerplexity: Double?
        if let evaluation = evaluationText {
            fullPrecisionPerplexity = try evaluation.perplexity(source, adapter: nil, progress("eval W"))
            for index in variants.indices {
                let adapter = try LoRAAdapter(
                    contentsOf: root.appendingPathComponent(variants[index].adapterPath),
                    for: bases[index].hyperparameters)
                let name = variants[index].runtime.rawValue
                variants[index].perplexity = (
                    try evaluation.perplexity(bases[index], adapter: nil, progress("eval \(name) base")),
                    try evaluation.perplexity(bases[index], adapter: adapter, progress("eval \(name) + adapter"))
                )
            }
        }
        let report = InitReport(
            model: model, calibration: provenance,
            recipe: recipe, variants: variants, evaluation: options.evaluation,
            fullPrecisionPerplexity: fullPrecisionPerplexity, seconds: (clock.now - started).seconds)
        try Data(report.json.text(indent: 2).utf8 + [0x0A]).write(to: root.appendingPathComponent("quail.json"))
        if let signingKey {
            let bar = progress("sign")
            _ = try BundleSigner.sign(directory: root, key: signingKey, subjectName: output.lastPathComponent) {
                done, total in
                bar.update(completed: done, total: total, label: "")
            }
            bar.finish()
        }
        try atomic.commit()
        return report
    }

    /// The solved adapters per variant and the cross-runtime probe ratio.
    private struct Solved {
        var updates: [[LoRAAdapter.Update]]
        var crossRuntimeRatio: Double?
    }

    /// Solves every target of every block for every variant, one block in memory at a time.
    private static func solveLayers(
        source: CheckpointWeights, bases: [CheckpointWeights], variants: inout [BundleVariant],
        gram: (GramKey) -> DoubleMatrix, recipe: InitRecipe, progress: any ProgressReporting
    ) throws -> Solved {
        let layers = source.configuration.layerCount
        var updates = Array(repeating: [LoRAAdapter.Update](), count: variants.count)
        var ratios: [Double] = []
        var generator = SplitMix64(seed: 0x5052_4f42_45)
        let clock = ContinuousClock()
        for layer in 0..<layers {
            let full = try source.layerWeights(at: layer)
            let quantized = try bases.map { try $0.layerWeights(at: layer) }
            var grams: [LinearGroup: DoubleMatrix] = [:]
            for target in recipe.targets {
                let h = grams[target.group] ?? gram(GramKey(layer: layer, group: target.group))
                grams[target.group] = h
                let name = "model.layers.\(layer).\(target.moduleName).weight"
                let w = target.weight(in: full)
                var corrected: [(base: Matrix, update: LoRAAdapter.Update)] = []
                for index in variants.indices {
                    let q = target.weight(in: quantized[index])
                    let problem = try LowRankInitProblem(layer: name, weight: w, base: q, gram: h)
                    let start = clock.now
                    let result = try LowRankInitializer.solve(
                        problem, method: recipe.method, options: recipe.solver, quantize: { _ in q })
                    let seconds = (clock.now - start).seconds
                    let stored = try result.factors.splittingScale(recipe.scale)
                    let update = LoRAAdapter.Update(
                        weightName: name, a: stored.a, b: stored.b, scale: Float(recipe.scale))
                    updates[index].append(update)
                    corrected.append((q, update))
                    variants[index].layers.append(
                        InitLayerMetrics(layer: layer, target: target, result: result, seconds: seconds))
                }
                if corrected.count == 2 {
                    let x = (0..<w.columns).map { _ in Float(generator.nextGaussian()) }
                    ratios.append(crossRuntimeRatio(corrected[0], corrected[1], x))
                }
            }
            progress.update(completed: layer + 1, total: layers, label: "block \(layer)")
        }
        progress.finish()
        return Solved(
            updates: updates, crossRuntimeRatio: ratios.isEmpty ? nil : ratios.reduce(0, +) / Double(ratios.count))
    }

    /// `‖(Q_p + Δ_p − Q_g − Δ_g)x‖ / ‖(Q_p − Q_g)x‖` (1 when the bases agree on `x`).
    private static func crossRuntimeRatio(
        _ p: (base: Matrix, update: LoRAAdapter.Update), _ g: (base: Matrix, update: LoRAAdapter.Update), _ x: [Float]
    ) -> Double {
        let xd = x.map(Double.init)
        let baseP = AdapterCompatibility.product(p.base, xd)
        let baseG = AdapterCompatibility.product(g.base, xd)
        let deltaP = AdapterCompatibility.correction(p.update, x)
        let deltaG = AdapterCompatibility.correction(g.update, x)
        let before = AdapterCompatibility.norm(zip(baseP, baseG).map { $0 - $1 })
        let after = AdapterCompatibility.norm(baseP.indices.map { baseP[$0] + deltaP[$0] - baseG[$0] - deltaG[$0] })
        return before > 0 ? after / before : 1
    }

    /// The evaluation text tokenized once with the model's tokenizer (the bases carry the same one) and checked
    /// before any work starts.
    private struct EvaluationText {
        let request: Evaluation
        let tokens: [Int]
        let bos: BOSPolicy

        /// - Throws: ``EvaluationError`` for an empty or too short text or a bad context, the tokenizer's errors.
        init(_ request: Evaluation, model: CheckpointWeights) throws {
            let encoding = try TextTokenization.encoding(for: model)
            self.request = request
            tokens = TextTokenization.tokens(of: try TextTokenization.text(at: request.text), encoding: encoding)
            bos = BOSPolicy(encoding)
            try PerplexityEvaluation.validate(
                tokens: tokens, source: request.text.path, configuration: model.configuration, options: options)
        }

        var options: PerplexityEvaluation.Options {
            .init(contextLength: request.contextLength, chunkLimit: request.chunkLimit)
        }

        /// Perplexity of `weights` (+ `adapter`).
        func perplexity(
            _ weights: CheckpointWeights, adapter: LoRAAdapter?, _ progress: any ProgressReporting
        ) throws -> Double {
            try PerplexityEvaluation.evaluate(
                weights, tokens: tokens, source: request.text.path, bos: bos, options: options, adapter: adapter,
                progress: progress
            ).perplexity
        }
    }
}
