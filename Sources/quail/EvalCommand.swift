// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import QuailKit
import Transformer

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure a model's perplexity on a text with llama.cpp's llama-perplexity rule.",
        discussion: """
            MODEL is an HF checkpoint directory (float, or pre-quantized by bitsandbytes: nf4, fp4, int8) or a GGUF \
            file (any type Quail dequantizes). The tokens are split \
            into chunks of --ctx tokens (the tail is dropped); each chunk is evaluated on its own, starting with BOS \
            when the model adds one, and only its second half is scored. --tokens-file takes token ids instead of \
            text; --adapter merges a LoRA adapter (W + s·B·A) into the weights as they are decoded; with \
            --dump-activations the tokens are run as one sequence and the hidden states and logits are \
            written as .npy files instead (for checking against a reference implementation). See man quail-eval.
            """)

    @Argument(help: "Model (HF directory, bitsandbytes HF directory, or GGUF file).", completion: .file())
    var model: String

    @Option(help: "Text file to evaluate (UTF-8).", completion: .file())
    var text: String?

    @Option(help: "JSON array of token ids to evaluate instead of a text.", completion: .file())
    var tokensFile: String?

    @Option(
        help: "LoRA adapter merged into the weights (PEFT adapter directory or llama.cpp LoRA GGUF).",
        completion: .file())
    var adapter: String?

    @Option(help: "Tokens per chunk.")
    var ctx = 512

    @Option(help: "Evaluate at most this many chunks.")
    var chunks: Int?

    @Option(help: "Keep decoded weights in memory between chunks (resident) or decode each layer per chunk (streamed).")
    var residency: WeightResidency = .resident

    @Option(help: "Threads for the matrix and element-wise work (default: OPENBLAS_NUM_THREADS or all cores).")
    var threads: Int?

    @Option(
        help: "Run the tokens as one sequence and write hidden-NN.npy, final-norm.npy and logits.npy into DIR.",
        completion: .directory)
    var dumpActivations: String?

    @Flag(help: "Replace an existing --dump-activations directory.")
    var force = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard (text == nil) != (tokensFile == nil) else {
            throw ValidationError("pass exactly one of --text and --tokens-file")
        }
        guard ctx >= PerplexityEvaluation.minimumContextLength else {
            throw ValidationError("--ctx must be at least \(PerplexityEvaluation.minimumContextLength)")
        }
        if let chunks, chunks <= 0 { throw ValidationError("--chunks must be positive") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
    }

    func run() throws {
        let weights = try CheckpointWeights(contentsOf: URL(fileURLWithPath: model))
        let lora = try adapter.map {
            try LoRAAdapter(contentsOf: URL(fileURLWithPath: $0), for: weights.hyperparameters)
        }
        let tokens: [Int]
        let bos: BOSPolicy
        let source: String
        if let text {
            source = text
            let body = try TextTokenization.text(at: URL(fileURLWithPath: text))
            let encoding = try TextTokenization.encoding(for: weights)
            tokens = TextTokenization.tokens(of: body, encoding: encoding)
            bos = BOSPolicy(encoding)
        } else {
            source = tokensFile ?? ""
            tokens = try TextTokenization.tokens(ofTokenFileAt: URL(fileURLWithPath: source))
            bos =
                dumpActivations == nil
                ? BOSPolicy(try weights.tokenizerMetadata()) : BOSPolicy(addsBOS: false, bosID: nil)
        }
        if let dumpActivations {
            let files = try ActivationDump.write(
                weights, tokens: tokens, source: source, to: URL(fileURLWithPath: dumpActivations), overwrite: force,
                adapter: lora)
            if json {
                let report: JSONValue = .object(
                    [
                        ("model", .string(model)), ("tokens", .integer(tokens.count)),
                        ("directory", .string(dumpActivations)), ("files", .array(files.map { .string($0) })),
                    ] + adapterFields(lora))
                print(report.text(indent: 2))
            } else {
                print("wrote \(files.count) arrays for \(tokens.count) tokens to \(dumpActivations)")
                if let lora { print(adapterLine(lora)) }
            }
            return
        }
        let report = try PerplexityEvaluation.evaluate(
            weights, tokens: tokens, source: source, bos: bos,
            options: .init(contextLength: ctx, chunkLimit: chunks, residency: residency, threadCount: threads),
            adapter: lora, progress: TerminalProgress(label: "eval"))
        if json {
            let fields = report.jsonRepresentation.objectValue ?? []
            print(JSONValue.object(fields + adapterFields(lora)).text(indent: 2))
        } else {
            print(report.text)
            if let lora { print(adapterLine(lora)) }
        }
    }

    /// The `adapter` entry of the JSON reports (none without an adapter).
    private func adapterFields(_ lora: LoRAAdapter?) -> [(String, JSONValue)] {
        guard let lora else { return [] }
        return [
            (
                "adapter",
                .object([
                    ("path", .string(lora.url.path)), ("format", .string(lora.format.rawValue)),
                    ("modules", .array(lora.weightNames.map { .string(String($0.dropLast(".weight".count))) })),
                    ("scales", .array(lora.scales.map { .number(Double($0)) })),
                ])
            )
        ]
    }

    /// The text report's adapter line.
    private func adapterLine(_ lora: LoRAAdapter) -> String {
        let scales = lora.scales.map { String(format: "%g", $0) }.joined(separator: ", ")
        let kinds = Set(lora.weightNames.map { $0.split(separator: ".").dropLast().last.map(String.init) ?? $0 })
        return "adapter: \(lora.url.path) (\(lora.format.rawValue)): \(lora.updates.count) linear(s) ("
            + kinds.sorted().joined(separator: ", ") + "), scale \(scales)"
    }
}

extension WeightResidency: ExpressibleByArgument {}
