// SPDX-License-Identifier: Apache-2.0

/// A problem with the inputs of a model run (`quail eval`): the model's tensors, the text or token file, the context.
public enum EvaluationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path is not something the runtime can load (it needs an HF directory or a GGUF file).
    case unsupportedInput(path: String)
    /// Tensors stored in a type the runtime cannot decode to F32.
    case unsupportedTensorTypes(path: String, tensors: [String])
    /// The text file is empty.
    case emptyText(path: String)
    /// The text tokenizes to fewer tokens than one context window.
    case textTooShort(path: String, tokens: Int, needed: Int)
    /// A token file is not a JSON array of integers.
    case invalidTokenFile(path: String, reason: String)
    /// A token id is outside the model's vocabulary.
    case tokenOutOfRange(path: String, index: Int, token: Int, vocabularySize: Int)
    /// The context length cannot score any token (llama.cpp scores positions `ctx/2 ..< ctx−1`).
    case contextTooSmall(contextLength: Int, minimum: Int)

    public var description: String {
        switch self {
        case .unsupportedInput(let path):
            "\(path): not an HF checkpoint directory or a GGUF file (the runtime needs one of these)"
        case .unsupportedTensorTypes(let path, let tensors):
            "\(path): \(tensors.count) tensor(s) in a type the runtime cannot dequantize: "
                + (tensors.count <= 6 ? tensors : tensors.prefix(6) + ["…"]).joined(separator: ", ")
        case .emptyText(let path): "\(path): the text is empty"
        case .textTooShort(let path, let tokens, let needed):
            "\(path): the text has \(tokens) token(s), fewer than one context of \(needed)"
        case .invalidTokenFile(let path, let reason): "\(path): not a JSON array of token ids: \(reason)"
        case .tokenOutOfRange(let path, let index, let token, let vocabularySize):
            "\(path): token \(index) is \(token), outside the vocabulary of \(vocabularySize)"
        case .contextTooSmall(let contextLength, let minimum):
            "context of \(contextLength) token(s) scores nothing; use at least \(minimum)"
        }
    }
}
