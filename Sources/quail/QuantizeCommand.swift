// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import QuailKit

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a llama-family checkpoint to ggml types (GGUF) or bitsandbytes NF4/FP4/int8 (HF).",
        discussion: """
            SRC is an HF directory or a GGUF file (quantized tensors are dequantized first). DST ending in .gguf \
            is written as GGUF (TYPE: a ggml type such as q4_0, q8_0, q4_k, iq4_nl, f16); anything else as an HF \
            directory that transformers loads as pre-quantized (TYPE: nf4, fp4 or int8). The default recipe \
            follows llama-quantize and bitsandbytes; --keep and --type-for change it per tensor, and every \
            fallback is reported. Tensors are processed one at a time; the output appears only when complete. \
            QUAIL_THREADS limits the worker threads.
            """)

    @Argument(help: "Source checkpoint (HF directory or GGUF file).", completion: .file())
    var source: String

    @Argument(help: "Destination (.gguf file or HF directory).", completion: .file())
    var destination: String

    @Option(help: "Quantization type: nf4, fp4, int8 (HF output) or a ggml type name (GGUF output).")
    var type: String

    @Option(help: "Values per absmax block for nf4/fp4: a power of two from 32 to 4096 (default 64).")
    var blocksize: Int?

    @Flag(inversion: .prefixedNo, help: "Double-quantize nf4/fp4 absmax values (QLoRA default).")
    var doubleQuant = true

    @Option(help: ArgumentHelp("Keep tensors whose name matches REGEX in their source type (repeatable).", valueName: "REGEX"))
    var keep: [String] = []

    @Option(help: ArgumentHelp("Store tensors matching REGEX as TYPE; the first match wins over every other rule (repeatable).", valueName: "REGEX=TYPE"))
    var typeFor: [String] = []

    @Flag(help: "Print each tensor's type, bits per weight and bytes; write nothing.")
    var dryRun = false

    @Flag(help: "Fail instead of taking any fallback type.")
    var strict = false

    @OptionGroup var output: OutputOptions

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let path = destination
        let fourBit = ["nf4", "fp4"].contains(type.lowercased())
        if let blocksize, !fourBit {
            throw CheckpointError.invalidOption(
                path: path, option: "--blocksize", value: String(blocksize), reason: "applies only to nf4 and fp4")
        }
        let blockSize = blocksize ?? 64
        let target = try QuantizationTarget(name: type, blockSize: blockSize, doubleQuantization: doubleQuant, path: path)
        var overrides: [QuantizationRecipe.TypeOverride] = []
        for argument in typeFor {
            overrides.append(
                try .init(parsing: argument, blockSize: blockSize, doubleQuantization: doubleQuant, path: path))
        }
        let options = CheckpointQuantizer.Options(
            recipe: QuantizationRecipe(target: target, keepPatterns: keep, typeOverrides: overrides), strict: strict,
            dryRun: dryRun, overwrite: output.force, maxShardByteCount: output.maxShardBytes)
        let report = try CheckpointQuantizer.quantize(
            from: URL(fileURLWithPath: source), to: URL(fileURLWithPath: destination), options: options,
            progress: TerminalProgress(label: "quantize"))
        print(json ? report.jsonRepresentation.text(indent: 2) : report.text)
        if dryRun, strict { try report.checkStrict() }
    }
}
