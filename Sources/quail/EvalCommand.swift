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
            MODEL is an HF checkpoint directory or a GGUF file (any type Quail dequantizes). The tokens are split \
            into chunks of --ctx tokens (the tail is dropped); each chunk is evaluated on its own, starting with BOS \
            when the model adds one, and only its second half is scored. --tokens-file takes token ids instead of \
            text; with --dump-activations the tokens are run as one sequence and the hidden states and logits are \
            written as .npy files instead (for checking against a reference implementation). See man quail-eval.
            """)

    @Argument(help: "Model (HF directory or GGUF file).", completion: .file())
    var model: String

    @Option(help: "Text file to evaluate (UTF-8).", completion: .file())
    var text: String?

    @Option(help: "JSON array of token ids to evaluate instead of a text.", completion: .file())
    var tokensFile: String?

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
                weights, tokens: tokens, source: source, to: URL(fileURLWithPath: dumpActivations), overwrite: force)
            if json {
                let report: JSONValue = .object([
                    ("model", .string(model)), ("tokens", .integer(tokens.count)),
                    ("directory", .string(dumpActivations)), ("files", .array(files.map { .string($0) })),
                ])
                print(report.text(indent: 2))
            } else {
                print("wrote \(files.count) arrays for \(tokens.count) tokens to \(dumpActivations)")
            }
            return
        }
        let report = try PerplexityEvaluation.evaluate(
            weights, tokens: tokens, source: source, bos: bos,
            options: .init(contextLength: ctx, chunkLimit: chunks, residency: residency, threadCount: threads),
            progress: TerminalProgress(label: "eval"))
        print(json ? report.jsonRepresentation.text(indent: 2) : report.text)
    }
}

extension WeightResidency: ExpressibleByArgument {}
