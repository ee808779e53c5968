// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import LowRankInit
import QuailKit
import TensorCore
import Testing
import Transformer

/// A recipe for tiny-llama: NF4 (block 64, double quantization) and Q4_0 bases, every target by default.
private func recipe(
    runtime: BundleRuntime = .both, method: LowRankInitMethod = .quailora, rank: Int = 4, alpha: Double = 8,
    targets: [AdapterTarget] = AdapterTarget.allCases, loftqIterations: Int = 1,
    peft: QuantizationTarget = .bitsAndBytes4Bit(.nf4, blockSize: 64, doubleQuantization: true),
    gguf: QuantizationTarget = .ggml(.q4_0)
) -> InitRecipe {
    InitRecipe(
        runtime: runtime, peftQuantization: peft, ggufQuantization: gguf, targets: targets, method: method,
        solver: LowRankInitOptions(rank: rank, loftqIterations: loftqIterations), alpha: alpha, scaling: .standard)
}

/// The entries of a directory, sorted.
private func listing(_ url: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
}

/// `tr(M·H·Mᵀ)` and `‖M‖²` of a row-major `out × in` residual, naively in float64.
private func energies(
    _ m: [Double], rows: Int, columns: Int, gram h: DoubleMatrix
) -> (calibrated: Double, weight: Double) {
    var calibrated = 0.0
    var weight = 0.0
    for r in 0..<rows {
        let row = m[(r * columns)..<((r + 1) * columns)]
        for i in 0..<columns {
            let ri = row[row.startIndex + i]
            weight += ri * ri
            var hr = 0.0
            for j in 0..<columns { hr += h.values[i * columns + j] * row[row.startIndex + j] }
            calibrated += ri * hr
        }
    }
    return (calibrated, weight)
}

/// `s·B·A` of an adapter update in float64, row-major `out × in`.
private func correction(_ update: LoRAAdapter.Update) -> [Double] {
    let (rows, columns, rank) = (update.b.rows, update.a.columns, update.a.rows)
    var delta = [Double](repeating: 0, count: rows * columns)
    for r in 0..<rows {
        for k in 0..<rank {
            let b = Double(update.b[r, k]) * Double(update.scale)
            for c in 0..<columns { delta[r * columns + c] += b * Double(update.a[k, c]) }
        }
    }
    return delta
}

@Suite("Adapter targets and init recipes")
struct InitRecipeTests {
    @Test("target lists accept short names, PEFT names and all; the result is in block order without repeats")
    func parseTargets() throws {
        #expect(try AdapterTarget.parseList("q,k,v") == [.q, .k, .v])
        #expect(try AdapterTarget.parseList("down, q_proj ,UP_PROJ,q") == [.q, .up, .down])
        #expect(try AdapterTarget.parseList("all") == [.q, .k, .v, .o, .gate, .up, .down])
        #expect(try AdapterTarget.parseList("all-linear") == AdapterTarget.allCases)
        #expect(try AdapterTarget.parseList("o_proj,gate_proj") == [.o, .gate])
        #expect(AdapterTarget.q.moduleName == "self_attn.q_proj" && AdapterTarget.down.peftName == "down_proj")
        #expect(AdapterTarget.allCases.map(\.group) == [
            .attentionInput, .attentionInput, .attentionInput, .attentionOutput, .feedForwardInput,
            .feedForwardInput, .feedForwardProduct,
        ])
    }

    @Test("unknown target names are all listed")
    func unknownTargets() {
        #expect(throws: InitError.unknownTargets(["query", "mlp"])) { try AdapterTarget.parseList("q,query,v,mlp") }
        #expect(throws: InitError.unknownTargets(["all"])) { try AdapterTarget.parseList("q,all") }
        #expect(throws: InitError.unknownTargets([""])) { try AdapterTarget.parseList("") }
        #expect(InitError.unknownTargets(["query", "mlp"]).description.contains("query, mlp"))
    }

    @Test("a rank above min(out, in) of a target names that module and its shape")
    func rankTooLarge() throws {
        let c = try CheckpointWeights(contentsOf: tinyLlamaURL).hyperparameters
        // tiny-llama: q 64 × 64, k/v 32 × 64 (2 kv heads of 16), gate/up 128 × 64, down 64 × 128.
        try recipe(rank: 32, targets: [.k, .v]).validate(for: c)
        try recipe(rank: 64, targets: [.q, .o, .gate, .up, .down]).validate(for: c)
        #expect(throws: InitError.rankTooLarge(rank: 33, module: "k_proj", rows: 32, columns: 64)) {
            try recipe(rank: 33).validate(for: c)
        }
        #expect(throws: InitError.rankTooLarge(rank: 65, module: "down_proj", rows: 64, columns: 128)) {
            try recipe(rank: 65, targets: [.down]).validate(for: c)
        }
        #expect(
            InitError.rankTooLarge(rank: 33, module: "k_proj", rows: 32, columns: 64).description.contains("k_proj"))
        #expect(throws: InitError.invalidSetting(name: "--rank", value: "0", rule: "must be ≥ 1")) {
            try recipe(rank: 0).validate(for: c)
        }
        #expect(throws: InitError.unknownTargets([])) { try recipe(targets: []).validate(for: c) }
    }

    @Test("α must be positive and finite", arguments: [0.0, -1.0, Double.infinity, -Double.infinity, Double.nan])
    func invalidAlpha(alpha: Double) throws {
        let c = try CheckpointWeights(contentsOf: tinyLlamaURL).hyperparameters
        #expect {
            try recipe(alpha: alpha).validate(for: c)
        } throws: { error in
            guard case .invalidAlpha(let found) = error as? InitError else { return false }
            return found.bitPattern == alpha.bitPattern
        }
    }

    @Test("LoftQ with 2 iterations, a ggml type for PEFT and a bitsandbytes type for GGUF are invalidSetting")
    func invalidSettings() throws {
        let c = try CheckpointWeights(contentsOf: tinyLlamaURL).hyperparameters
        func name(_ r: InitRecipe) -> String? {
            do { try r.validate(for: c) } catch {
                if case .invalidSetting(let name, _, _) = error { return name }
            }
            return nil
        }
        #expect(name(recipe(method: .loftq, loftqIterations: 2)) == "--loftq-iterations")
        #expect(name(recipe(method: .loftq)) == nil)
        #expect(name(recipe(method: .quailora, loftqIterations: 2)) == nil)
        #expect(name(recipe(runtime: .peft, peft: .ggml(.q4_0))) == "--quant")
        #expect(name(recipe(runtime: .both, peft: .bitsAndBytesInt8)) == "--quant")
        #expect(name(recipe(runtime: .gguf, peft: .ggml(.q4_0))) == nil)
        let nf4 = QuantizationTarget.bitsAndBytes4Bit(.nf4, blockSize: 64, doubleQuantization: true)
        #expect(name(recipe(runtime: .gguf, gguf: nf4)) == "--gguf-quant")
        #expect(name(recipe(runtime: .peft, gguf: nf4)) == nil)
        var damped = recipe()
        damped.solver.damping = -1
        #expect(name(damped) == "--damping")
        damped.solver.damping = .nan
        #expect(name(damped) == "--damping")
        var stepped = recipe()
        stepped.solver.steps = -1
        #expect(name(stepped) == "--steps")
    }

    @Test("the PEFT scale is α/r (α/√r with rsLoRA) and the GGUF alpha makes llama.cpp's α/r equal to it")
    func scales() {
        var r = recipe(rank: 4, alpha: 8)
        #expect(r.scale == 2 && r.storedGGUFAlpha == 8)
        r.scaling = .rankStabilized
        #expect(r.scale == 4 && r.storedGGUFAlpha == 16)
    }
}

@Suite("Init pipeline")
struct InitPipelineTests {
    @Test("quailora, rank 4, both runtimes: full bundle, 14 layers per variant, errors ≤ 1 and as the adapters imply")
    func quailoraBundle() throws {
        let calibration = try FixtureCalibration.shared.result()
        let directory = try TemporaryDirectory()
        let output = directory.path("bundle")
        let r = recipe()
        let report = try InitPipeline.run(
            model: tinyLlamaURL, statistics: .computed(calibration), output: output, options: .init(recipe: r))
        #expect(try listing(directory.url) == ["bundle"])
        for path in [
            "quail.json", "peft/base/config.json", "peft/adapter/adapter_config.json",
            "peft/adapter/adapter_model.safetensors", "gguf/base.gguf", "gguf/adapter.gguf", "peft/init-errors.svg",
            "gguf/init-errors.svg",
        ] {
            #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent(path).path), "\(path)")
        }
        let svg = try String(contentsOf: output.appendingPathComponent("gguf/init-errors.svg"), encoding: .utf8)
        #expect(svg.contains("<svg") && svg.contains("</svg>"))

        let source = try CheckpointWeights(contentsOf: tinyLlamaURL)
        let c = source.configuration
        #expect(report.variants.map(\.runtime) == [.peft, .gguf])
        for variant in report.variants {
            #expect(variant.layers.count == 14)
            #expect(variant.compatibility?.adaptedLayers == 14 && variant.compatibility?.requestedLayers == 14)
            #expect(variant.compatibility?.crossRuntimeRatio != nil)
            #expect(variant.meanRelativeCalibratedError < 1)
            let base = try CheckpointWeights(contentsOf: output.appendingPathComponent(variant.basePath))
            let adapter = try LoRAAdapter(
                contentsOf: output.appendingPathComponent(variant.adapterPath), for: base.hyperparameters)
            #expect(adapter.updates.count == 14)
            for layer in 0..<c.layerCount {
                let full = try source.layerWeights(at: layer)
                let quantized = try base.layerWeights(at: layer)
                for target in AdapterTarget.allCases {
                    let metrics = try #require(variant.layers.first { $0.layer == layer && $0.target == target })
                    #expect(metrics.relativeCalibratedError <= 1, "\(metrics.module)")
                    if metrics.fellBackToZero { #expect(metrics.relativeCalibratedError == 1) }
                    let update = try #require(adapter.updates["\(metrics.module).weight"])
                    #expect(update.scale == Float(r.scale))
                    #expect(update.a.rows == 4 && update.b.columns == 4)
                    let w = target.weight(in: full)
                    let q = target.weight(in: quantized)
                    let delta = correction(update)
                    let e = zip(w.values, q.values).map { Double($0) - Double($1) }
                    let residual = zip(e, delta).map { $0 - $1 }
                    let h = try #require(calibration.grams[GramKey(layer: layer, group: target.group)])
                    let before = energies(e, rows: w.rows, columns: w.columns, gram: h)
                    let after = energies(residual, rows: w.rows, columns: w.columns, gram: h)
                    #expect(before.calibrated > 0 && before.weight > 0)
                    let calibrated = after.calibrated / before.calibrated
                    let weight = after.weight / before.weight
                    #expect(abs(calibrated - metrics.relativeCalibratedError) < 1e-4, "\(metrics.module)")
                    #expect(abs(weight - metrics.relativeWeightError) < 1e-4, "\(metrics.module)")
                }
            }
        }

        let json = try JSONValue(parsing: Data(contentsOf: output.appendingPathComponent("quail.json")))
        #expect(json["format"]?.stringValue == "quail-bundle")
        #expect(json["base_model"]?["digest"]?.stringValue == (try CheckpointDigest.model(at: tinyLlamaURL)))
        #expect(json["calibration"]?["data_digest"]?.stringValue == calibration.provenance.dataDigest)
        #expect(json["recipe"]?["rank"]?.intValue == 4)
        let variants = try #require(json["variants"]?.arrayValue)
        #expect(variants.map { $0["runtime"]?.stringValue } == ["peft", "gguf"])
        for (entry, variant) in zip(variants, report.variants) {
            let layers = try #require(entry["layers"]?.arrayValue)
            #expect(layers.count == 14)
            let written = layers.map { $0["relative_calibrated_error"]?.doubleValue }
            #expect(written == variant.layers.map(\.relativeCalibratedError))
        }
    }

    @Test("method zero from a statistics file stores zero corrections; every relative error is exactly 1")
    func zeroMethod() throws {
        let calibration = try FixtureCalibration.shared.result()
        let directory = try TemporaryDirectory()
        let stats = directory.path("stats.safetensors")
        try CalibrationStatisticsFile.write(grams: calibration.grams, provenance: calibration.provenance, to: stats)
        let output = directory.path("bundle")
        let report = try InitPipeline.run(
            model: tinyLlamaURL, statistics: .file(try CalibrationStatisticsFile(contentsOf: stats)), output: output,
            options: .init(recipe: recipe(method: .zero, targets: [.q, .o, .down])))
        #expect(try listing(directory.url) == ["bundle", "stats.safetensors"])
        #expect(report.variants.count == 2)
        for variant in report.variants {
            #expect(variant.layers.count == 6)
            for metrics in variant.layers {
                #expect(metrics.relativeCalibratedError == 1 && metrics.relativeWeightError == 1, "\(metrics.module)")
                #expect(!metrics.fellBackToZero)
            }
            let base = try CheckpointWeights(contentsOf: output.appendingPathComponent(variant.basePath))
            let adapter = try LoRAAdapter(
                contentsOf: output.appendingPathComponent(variant.adapterPath), for: base.hyperparameters)
            #expect(adapter.updates.count == 6)
            for update in adapter.updates.values { #expect(correction(update).allSatisfy { $0 == 0 }) }
        }
    }

    @Test("bad settings, a missing signing key or statistics of another model fail before any work, leaving nothing")
    func failsBeforeWork() throws {
        let calibration = try FixtureCalibration.shared.result()
        let directory = try TemporaryDirectory()
        let output = directory.path("bundle")
        #expect(throws: InitError.invalidAlpha(0)) {
            try InitPipeline.run(
                model: tinyLlamaURL, statistics: .computed(calibration), output: output,
                options: .init(recipe: recipe(alpha: 0)))
        }
        #expect(throws: (any Error).self) {
            try InitPipeline.run(
                model: tinyLlamaURL, statistics: .computed(calibration), output: output,
                options: .init(recipe: recipe(), signingKey: directory.path("absent.pem")))
        }
        #expect(try listing(directory.url).isEmpty)

        let stats = directory.path("other.safetensors")
        try CalibrationStatisticsFile.write(
            grams: syntheticGrams(layers: 2, dimensions: tinyLlamaDimensions, seed: 1),
            provenance: try syntheticProvenance(layers: 2), to: stats)
        #expect {
            try InitPipeline.run(
                model: tinyLlamaURL, statistics: .file(try CalibrationStatisticsFile(contentsOf: stats)),
                output: output, options: .init(recipe: recipe()))
        } throws: { error in
            guard case .statisticsMismatch(let path, _, _, _) = error as? CalibrationError else { return false }
            return path == stats.path
        }
        #expect(try listing(directory.url) == ["other.safetensors"])
    }

    @Test("a failure while solving, after the bases were written, leaves no bundle and no temporary directory")
    func failsWhileSolving() throws {
        let directory = try TemporaryDirectory()
        let weights = try CheckpointWeights(contentsOf: tinyLlamaURL)
        var provenance = try syntheticProvenance(layers: 2)
        provenance.modelDigest = try CheckpointDigest.model(at: tinyLlamaURL)
        provenance.tokenizerDigest = CheckpointDigest.tokenizer(try weights.tokenizerMetadata())
        var grams = syntheticGrams(layers: 2, dimensions: tinyLlamaDimensions, seed: 1, integral: true)
        grams[GramKey(layer: 1, group: .feedForwardProduct)]?.values[5] = .nan
        let stats = directory.path("nan.safetensors")
        try CalibrationStatisticsFile.write(grams: grams, provenance: provenance, to: stats)
        let output = directory.path("bundle")
        #expect {
            try InitPipeline.run(
                model: tinyLlamaURL, statistics: .file(try CalibrationStatisticsFile(contentsOf: stats)),
                output: output, options: .init(recipe: recipe(method: .svd, targets: [.down])))
        } throws: { error in
            guard case .nonFiniteValue(let layer, let matrix, _, _) = error as? LowRankInitError else { return false }
            return layer == "model.layers.1.mlp.down_proj.weight" && matrix == "H"
        }
        #expect(try listing(directory.url) == ["nan.safetensors"])

        // An existing bundle is kept unless overwriting is asked for.
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: output.appendingPathComponent("marker"))
        #expect(throws: (any Error).self) {
            try InitPipeline.run(
                model: tinyLlamaURL, statistics: .file(try CalibrationStatisticsFile(contentsOf: stats)),
                output: output, options: .init(recipe: recipe(method: .zero, targets: [.down])))
        }
        #expect(try listing(output) == ["marker"])
        #expect(try listing(directory.url) == ["bundle", "nan.safetensors"])
    }
}
