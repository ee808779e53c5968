// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import LowRankInit
import QuailKit

/// Hidden developer hook: solve one layer's LoRA init from .npy files (interop tests, solver benchmark).
struct SolveLayerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "solve-layer",
        abstract: "Solve one layer's LoRA initialisation from .npy files (developer hook).",
        discussion: """
            W and Q are out x in, H is in x in (float32 or float64 C-order .npy). Writes a.npy (rank x in, \
            PEFT lora_A) and b.npy (out x rank, PEFT lora_B) with b.a approximating W - Q, plus base.npy when \
            loftq replaced Q. See formats/lora-init.md.
            """,
        shouldDisplay: false)

    @Option(help: "Full-precision weight W (.npy, out x in).", completion: .file())
    var w: String

    @Option(help: "Quantized-dequantized base Q (.npy, out x in).", completion: .file())
    var q: String

    @Option(help: "Gram matrix H = X X^T of the layer inputs (.npy, in x in).", completion: .file())
    var h: String

    @Option(help: "LoRA rank.")
    var rank: Int

    @Option(help: "zero, svd, loftq, quailora or exact.")
    var method: String

    @Option(help: "Relative ridge: lambda = damping * mean(diag H).")
    var damping: Double = 0.01

    @Option(help: "QuAILoRA alternation steps.")
    var steps: Int = 20

    @Option(help: "LoftQ iterations.")
    var loftqIterations: Int = 1

    @Option(help: "Quantizer for loftq: nf4, fp4 (bitsandbytes, block 64) or a ggml type such as q4_0.")
    var quant: String?

    @Option(help: "Divide the stored factors by sqrt(scale) for a runtime that scales B.A (PEFT alpha/r).")
    var scale: Double?

    @Option(help: "Output directory for a.npy, b.npy (and base.npy).", completion: .directory)
    var out: String?

    @Flag(help: "Replace an existing output directory.")
    var force = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard LowRankInitMethod(rawValue: method) != nil else {
            throw ValidationError(
                "--method must be one of \(LowRankInitMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let quant, LayerSolve.Quantizer(name: quant) == nil {
            throw ValidationError("--quant `\(quant)` is not nf4, fp4 or a ggml type Quail can quantize")
        }
    }

    func run() throws {
        guard let method = LowRankInitMethod(rawValue: method) else { return }
        let options = LayerSolve.Options(
            method: method,
            solver: LowRankInitOptions(rank: rank, damping: damping, steps: steps, loftqIterations: loftqIterations),
            quantizer: quant.flatMap(LayerSolve.Quantizer.init(name:)), scale: scale,
            output: out.map { URL(fileURLWithPath: $0) }, overwrite: force)
        let report = try LayerSolve.run(
            weight: URL(fileURLWithPath: w), base: URL(fileURLWithPath: q), gram: URL(fileURLWithPath: h),
            options: options)
        if json {
            print(report.text(indent: 2))
            return
        }
        let errors = report["errors"]
        let calibrated = errors?["relative_calibrated"]?.doubleValue ?? .nan
        let weight = errors?["relative_weight"]?.doubleValue ?? .nan
        print(
            "\(method.rawValue) rank \(rank): relative calibrated error \(calibrated), relative weight error \(weight)")
        if report["fell_back_to_zero"]?.boolValue == true { print("note: worse than zero-init; returned zero factors") }
    }
}
