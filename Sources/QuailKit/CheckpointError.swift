// SPDX-License-Identifier: Apache-2.0
import Tokenizers

/// A problem with a checkpoint as a whole (its side files, names, shapes, or a requested conversion).
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A required file is absent.
    case missingFile(path: String)
    /// A JSON side file cannot be parsed.
    case invalidJSON(path: String, reason: String)
    /// A required field is absent or has the wrong JSON type.
    case invalidField(path: String, key: String, expected: String)
    /// The architecture is not one Quail supports.
    case unsupportedArchitecture(path: String, found: String, supported: [String])
    /// The tokenizer kind is not one Quail supports.
    case unsupportedTokenizer(path: String, found: String)
    /// The tokenizer's vocabulary, merges or special tokens cannot be used.
    case invalidTokenizer(path: String, reason: TokenizerError)
    /// Hyperparameters contradict each other.
    case inconsistentHyperparameters(path: String, reason: String)
    /// Tensors that the architecture requires are absent.
    case missingTensors(path: String, names: [String])
    /// Tensors the architecture does not define are present.
    case unexpectedTensors(path: String, names: [String])
    /// A tensor's shape differs from the one the hyperparameters imply.
    case shapeMismatch(path: String, tensor: String, expected: [Int], actual: [Int])
    /// Tensors of a type the requested output cannot hold without an explicit `--dtype`.
    case needsDType(path: String, tensors: [String], reason: String)
    /// The path is neither a safetensors file, a GGUF file, nor an HF checkpoint directory.
    case unrecognizedInput(path: String)
    /// The output already exists.
    case outputExists(path: String)
    /// A command-line option's value is unusable for this input or output (`path`).
    case invalidOption(path: String, option: String, value: String, reason: String)
    /// `--strict` was given and these tensors (each with the fallback that would be taken) need a fallback.
    case fallbackRefused(path: String, tensors: [String])
    /// A tensor's values cannot be quantized (NaN or infinite weights, values beyond the target's range).
    case cannotQuantize(path: String, tensor: String, reason: String)
    /// A pre-quantized tensor (bitsandbytes, or a GGUF block type the runtime decodes) or its quantization
    /// settings break a rule.
    case invalidQuantizedTensor(path: String, tensor: String, reason: String)
    /// A `.npy` file is not a float32/float64 C-order NumPy array Quail can read.
    case invalidArrayFile(path: String, reason: String)
    /// A LoRA adapter Quail cannot apply to the model (wrong kind, architecture, DoRA, non-linear targets).
    case unsupportedAdapter(path: String, reason: String)

    public var description: String {
        switch self {
        case .missingFile(let path): "\(path): file not found"
        case .invalidJSON(let path, let reason): "\(path): invalid JSON: \(reason)"
        case .invalidField(let path, let key, let expected): "\(path): field `\(key)` must be \(expected)"
        case .unsupportedArchitecture(let path, let found, let supported):
            "\(path): unsupported architecture `\(found)` (supported: \(supported.joined(separator: ", ")))"
        case .unsupportedTokenizer(let path, let found): "\(path): unsupported tokenizer: \(found)"
        case .invalidTokenizer(let path, let reason): "\(path): tokenizer: \(reason)"
        case .inconsistentHyperparameters(let path, let reason): "\(path): inconsistent hyperparameters: \(reason)"
        case .missingTensors(let path, let names):
            "\(path): missing \(names.count) tensor(s): \(CheckpointError.list(names))"
        case .unexpectedTensors(let path, let names):
            "\(path): \(names.count) tensor(s) not part of the architecture: \(CheckpointError.list(names))"
        case .shapeMismatch(let path, let tensor, let expected, let actual):
            "\(path): tensor `\(tensor)` has shape \(actual), expected \(expected)"
        case .needsDType(let path, let tensors, let reason):
            "\(path): \(reason) (\(tensors.count) tensor(s): \(CheckpointError.list(tensors))); pass --dtype f32|f16|bf16"
        case .unrecognizedInput(let path):
            "\(path): not a safetensors file, a GGUF file, or a directory with config.json"
        case .outputExists(let path): "\(path): already exists (use --force to replace it)"
        case .invalidOption(let path, let option, let value, let reason):
            "\(path): \(option) `\(value)`: \(reason)"
        case .fallbackRefused(let path, let tensors):
            "\(path): --strict: \(tensors.count) tensor(s) cannot take the requested type: \(CheckpointError.list(tensors))"
        case .cannotQuantize(let path, let tensor, let reason): "\(path): cannot quantize tensor `\(tensor)`: \(reason)"
        case .invalidQuantizedTensor(let path, let tensor, let reason):
            "\(path): quantized tensor `\(tensor)`: \(reason)"
        case .invalidArrayFile(let path, let reason): "\(path): not a float32/float64 C-order .npy array: \(reason)"
        case .unsupportedAdapter(let path, let reason): "\(path): cannot apply this LoRA adapter: \(reason)"
        }
    }

    private static func list(_ names: [String]) -> String {
        names.count <= 6 ? names.joined(separator: ", ") : names.prefix(6).joined(separator: ", ") + ", …"
    }
}
