// SPDX-License-Identifier: Apache-2.0

/// What can go wrong while reading calibration text, sampling it, collecting statistics or merging them.
public enum CalibrationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A calibration file holds no text (or a JSONL file no documents).
    case emptyData(path: String)
    /// A JSONL line is not a JSON object.
    case invalidJSONLine(path: String, line: Int, reason: String)
    /// A JSONL object lacks the chosen field or it is not a string.
    case missingField(path: String, line: Int, field: String)
    /// The token stream is shorter than one sample.
    case textTooShort(paths: [String], tokens: Int, needed: Int)
    /// Fewer sampled tokens per Gram dimension than the minimum.
    case tooFewTokens(tokens: Int, dimension: Int, minimumPerDimension: Double)
    /// A sampler setting is out of range.
    case invalidSetting(name: String, value: String, rule: String)
    /// An activation of the full-precision model is NaN or infinite.
    case nonFiniteActivation(layer: Int, input: String, token: Int, feature: Int)
    /// A statistics file is not one Quail wrote, or is damaged.
    case invalidStatistics(path: String, reason: String)
    /// A statistics file belongs to another model, tokenizer, data or sampler.
    case statisticsMismatch(path: String, field: String, expected: String, actual: String)
    /// Partial statistics do not form one complete set of shards.
    case incompleteShards(count: Int, missing: [Int], duplicated: [Int])

    public var description: String {
        switch self {
        case .emptyData(let path): "\(path): no calibration text"
        case .invalidJSONLine(let path, let line, let reason): "\(path):\(line): not a JSON object: \(reason)"
        case .missingField(let path, let line, let field):
            "\(path):\(line): no string field \"\(field)\" (choose the field with --field)"
        case .textTooShort(let paths, let tokens, let needed):
            "\(paths.joined(separator: ", ")): \(tokens) tokens of calibration text, a sample needs \(needed)"
        case .tooFewTokens(let tokens, let dimension, let minimum):
            "calibration has \(tokens) sampled tokens for Gram matrices of dimension \(dimension): "
                + "fewer than \(minimum) per dimension (raise --samples or --seq-len, or lower --min-tokens-per-dim)"
        case .invalidSetting(let name, let value, let rule): "\(name) \(value): \(rule)"
        case .nonFiniteActivation(let layer, let input, let token, let feature):
            "non-finite activation in block \(layer), input of \(input), token \(token), feature \(feature)"
        case .invalidStatistics(let path, let reason): "\(path): not a Quail calibration-statistics file: \(reason)"
        case .statisticsMismatch(let path, let field, let expected, let actual):
            "\(path): \(field) is \(actual), expected \(expected)"
        case .incompleteShards(let count, let missing, let duplicated):
            "partial statistics do not form \(count) shards: "
                + [
                    missing.isEmpty ? nil : "missing \(missing.map(String.init).joined(separator: ", "))",
                    duplicated.isEmpty ? nil : "duplicated \(duplicated.map(String.init).joined(separator: ", "))",
                ].compactMap { $0 }.joined(separator: "; ")
        }
    }
}
