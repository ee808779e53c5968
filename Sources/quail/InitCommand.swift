// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import LowRankInit
import Packaging
import QuailKit

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract:
            "Quantize a model and initialise LoRA adapters against the quantization error (QuAILoRA); write a bundle.",
        discussion: """
            Calibrates MODEL on --calib text (or loads --stats from `quail calibrate`), quantizes it for each \
            runtime (--runtime peft: bitsandbytes --quant base + PEFT adapter; gguf: --gguf-quant GGUF base + \
            llama.cpp LoRA GGUF; both), solves every targeted layer against the Gram matrix of its inputs and its \
            base's actual quantization error, checks the written adapters, and writes the bundle OUT with \
            quail.json (provenance and per-layer errors) and an error plot per variant. --eval-text adds \
            perplexities of W, Q and Q + AB^T; --key signs the bundle. OUT appears only when all of it succeeded. \
            See man quail-init and formats/bundle.md.
            """)

    @Argument(help: "Full-precision model (HF directory or GGUF file).", completion: .file())
    var model: String

    @OptionGroup var calibration: CalibrationOptions

    @Option(help: "Calibration statistics from `quail calibrate` instead of --calib.", completion: .file())
    var stats: String?

    @Option(help: "Base quantization: nf4 or fp4 (PEFT variant), or a ggml type (selects --runtime gguf).")
    var quant = "nf4"

    @Option(help: "Values per absmax block for nf4/fp4.")
    var blocksize = 64

    @Flag(inversion: .prefixedNo, help: "Double-quantize nf4/fp4 absmax values (QLoRA default).")
    var doubleQuant = true

    @Option(help: "ggml type of the GGUF variant's base (default q4_0).")
    var ggufQuant: String?

    @Option(help: "Variants to write: peft, gguf or both (default: both, or gguf when --quant is a ggml type).")
    var runtime: BundleRuntime?

    @Option(help: "LoRA rank r.")
    var rank = 64

    @Option(help: "LoRA alpha (PEFT scales B·A by alpha/r).")
    var alpha = 16.0

    @Flag(help: "Use rank-stabilized scaling alpha/sqrt(r) (PEFT use_rslora).")
    var rslora = false

    @Option(help: "Initialisation: zero, svd, loftq, quailora or exact.")
    var method: LowRankInitMethod = .quailora

    @Option(help: "Adapted layers: comma-separated q,k,v,o,gate,up,down (or all).")
    var targets = "q,k,v,o,gate,up,down"

    @Option(help: "Relative ridge of the calibrated methods (lambda = damping · mean diag H).")
    var damping = 0.01

    @Option(help: "QuAILoRA alternation steps.")
    var steps = 20

    @Option(help: "LoftQ alternations (init supports 1).")
    var loftqIterations = 1

    @Option(help: "Held-out text: report perplexities of W, each base, and each base + adapter.", completion: .file())
    var evalText: String?

    @Option(help: "Tokens per evaluation chunk.")
    var evalCtx = 512

    @Option(help: "Evaluate at most this many chunks.")
    var evalChunks: Int?

    @Option(
        help: "Sign the bundle with this private key (PEM, ECDSA) before it is moved into place.", completion: .file())
    var key: String?

    @Option(name: [.customShort("o"), .long], help: "Bundle directory to write.", completion: .directory)
    var output: String

    @Flag(help: "Replace an existing bundle.")
    var force = false

    @Flag(help: "Print the report (quail.json) as JSON.")
    var json = false

    func validate() throws {
        guard calibration.files.isEmpty != (stats == nil) else {
            throw ValidationError("pass exactly one of --calib FILE... and --stats FILE")
        }
        if let evalChunks, evalChunks <= 0 { throw ValidationError("--eval-chunks must be positive") }
    }

    func run() throws {
        let modelURL = URL(fileURLWithPath: model)
        let first = try QuantizationTarget(
            name: quant, blockSize: blocksize, doubleQuantization: doubleQuant, option: "--quant", path: model)
        if first.ggmlType != nil, ggufQuant != nil {
            throw ValidationError("--quant \(quant) is already the GGUF variant's type; drop --gguf-quant")
        }
        let ggufTarget =
            first.ggmlType != nil
            ? first : try QuantizationTarget(name: ggufQuant ?? "q4_0", option: "--gguf-quant", path: model)
        let recipe = InitRecipe(
            runtime: runtime ?? (first.ggmlType != nil ? .gguf : .both), peftQuantization: first,
            ggufQuantization: ggufTarget, targets: try AdapterTarget.parseList(targets), method: method,
            solver: LowRankInitOptions(
                rank: rank, damping: damping, steps: steps, loftqIterations: loftqIterations),
            alpha: alpha, scaling: rslora ? .rankStabilized : .standard)
        // Refuse what would only fail after a long calibration run.
        if !force, FileManager.default.fileExists(atPath: output) {
            throw CheckpointError.outputExists(path: output)
        }
        if let key { _ = try SigningKey(contentsOf: URL(fileURLWithPath: key)) }
        let statistics: InitPipeline.Statistics
        if let stats {
            statistics = .file(try CalibrationStatisticsFile(contentsOf: URL(fileURLWithPath: stats)))
        } else {
            let weights = try CheckpointWeights(contentsOf: modelURL)
            try recipe.validate(for: weights.hyperparameters)
            statistics = .computed(
                try CalibrationRun.run(
                    weights, data: try calibration.data(),
                    options: .init(
                        sampler: calibration.sampler, minimumTokensPerDimension: calibration.minTokensPerDim,
                        threadCount: calibration.threads),
                    progress: TerminalProgress(label: "calibrate")))
        }
        let report = try InitPipeline.run(
            model: modelURL, statistics: statistics, output: URL(fileURLWithPath: output),
            options: .init(
                recipe: recipe,
                evaluation: evalText.map {
                    .init(text: URL(fileURLWithPath: $0), contextLength: evalCtx, chunkLimit: evalChunks)
                },
                signingKey: key.map { URL(fileURLWithPath: $0) }, overwrite: force),
            progress: { TerminalProgress(label: $0) })
        print(json ? report.json.text(indent: 2) : report.text)
    }
}

extension BundleRuntime: ExpressibleByArgument {}
extension LowRankInitMethod: ExpressibleByArgument {}
