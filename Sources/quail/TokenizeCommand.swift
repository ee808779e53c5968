// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import QuailKit

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize text with a checkpoint's byte-level BPE tokenizer, as HF tokenizers does.",
        discussion: """
            MODEL is an HF directory (tokenizer.json, tokenizer_config.json, config.json) or a GGUF file \
            (tokenizer.ggml.*). Special tokens written in the text are recognised; BOS/EOS are added as the \
            checkpoint says unless --no-special is given. --decode turns ids back into text instead. \
            Unsupported tokenizers are errors, never replaced by another tokenizer.
            """)

    @Argument(help: "Checkpoint (HF directory or GGUF file).", completion: .file())
    var model: String

    @Option(help: "Read the text from this file (UTF-8).", completion: .file())
    var text: String?

    @Option(help: "Tokenize this string.")
    var string: String?

    @Option(help: "Decode these comma-separated token ids to text instead.")
    var decode: String?

    @Flag(help: "Do not add the checkpoint's BOS/EOS tokens (with --decode: leave special tokens out).")
    var noSpecial = false

    @Flag(help: "Print {\"ids\", \"tokens\", \"count\"} as JSON.")
    var json = false

    func validate() throws {
        guard [text, string, decode].compactMap({ $0 }).count == 1 else {
            throw ValidationError("pass exactly one of --text, --string or --decode")
        }
    }

    func run() throws {
        if let decode {
            let ids = try decode.split(separator: ",").map { field in
                guard let id = Int(field.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--decode: `\(field)` is not a token id")
                }
                return id
            }
            let tokenizer = try CheckpointTokenizer(checkpointAt: URL(fileURLWithPath: model))
            let decoded = try tokenizer.decode(ids, skipSpecialTokens: noSpecial)
            print(json ? JSONValue.object([("text", .string(decoded))]).text() : decoded)
            return
        }
        let input: String
        if let text {
            guard let data = FileManager.default.contents(atPath: text) else {
                throw CheckpointError.missingFile(path: text)
            }
            guard let decoded = String(validating: data, as: UTF8.self) else { throw TextInputError.notUTF8(path: text) }
            input = decoded
        } else {
            input = string ?? ""
        }
        let tokenizer = try CheckpointTokenizer(checkpointAt: URL(fileURLWithPath: model))
        let result = Tokenization(text: input, tokenizer: tokenizer.tokenizer, addSpecialTokens: !noSpecial)
        print(json ? result.jsonRepresentation.text(indent: nil) : result.text)
    }
}

/// A `--text` file that cannot be tokenized.
enum TextInputError: Error, CustomStringConvertible {
    /// The file is not valid UTF-8.
    case notUTF8(path: String)

    var description: String {
        switch self {
        case .notUTF8(let path): "\(path): not valid UTF-8 text"
        }
    }
}
