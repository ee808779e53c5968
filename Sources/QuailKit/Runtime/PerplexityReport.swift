// SPDX-License-Identifier: Apache-2.0
import Foundation
import Transformer

/// The result of ``PerplexityEvaluation/evaluate(_:tokens:source:bos:options:progress:)``.
public struct PerplexityReport: Sendable {
    /// The model path.
    public let model: String
    /// The text or token file evaluated.
    public let source: String
    /// Tokens in the whole input.
    public let tokenCount: Int
    /// Tokens per chunk.
    public let contextLength: Int
    /// Chunks evaluated.
    public let chunkCount: Int
    /// Tokens scored (`chunks × (ctx − 1 − ctx/2)`).
    public let scoredTokenCount: Int
    /// Whether each chunk started with BOS.
    public let addsBOS: Bool
    /// The final perplexity.
    public let perplexity: Double
    /// llama.cpp's `+/-` uncertainty of the perplexity.
    public let standardError: Double?
    /// The perplexity after each chunk (llama.cpp's `[i]ppl` line).
    public let runningPerplexities: [Double]
    /// Wall time of each chunk (the first includes decoding the weights when they are kept resident).
    public let chunkSeconds: [Double]
    /// Threads used.
    public let threadCount: Int
    /// Weight residency used.
    public let residency: WeightResidency
    /// Stored tensor types of the model and their counts.
    public let storedTypes: [String: Int]

    /// Wall time of the evaluation loop (weight decoding included).
    public var seconds: Double { chunkSeconds.reduce(0, +) }

    /// Evaluated tokens per second (`chunks × ctx / seconds`).
    public var tokensPerSecond: Double { seconds > 0 ? Double(chunkCount * contextLength) / seconds : 0 }

    /// The report as llama.cpp prints it, plus the speed.
    public var text: String {
        var lines = [
            runningPerplexities.enumerated().map { String(format: "[%d]%.4f", $0 + 1, $1) }.joined(separator: ",")
        ]
        if let standardError {
            lines.append(String(format: "Final estimate: PPL = %.4f +/- %.5f", perplexity, standardError))
        } else {
            lines.append(String(format: "Final estimate: PPL = %.4f", perplexity))
        }
        lines.append(
            String(
                format: "%d chunk(s) of %d tokens (%d scored) in %.2f s: %.1f tokens/s on %d thread(s)", chunkCount,
                contextLength, scoredTokenCount, seconds, tokensPerSecond, threadCount))
        return lines.joined(separator: "\n")
    }

    /// The report as JSON (`quail eval --json`).
    public var jsonRepresentation: JSONValue {
        .object([
            ("model", .string(model)),
            ("source", .string(source)),
            ("stored_types", .object(storedTypes.sorted { $0.key < $1.key }.map { ($0.key, .integer($0.value)) })),
            ("tokens", .integer(tokenCount)),
            ("context", .integer(contextLength)),
            ("chunks", .integer(chunkCount)),
            ("scored_tokens", .integer(scoredTokenCount)),
            ("adds_bos", .bool(addsBOS)),
            ("perplexity", .number(perplexity)),
            ("perplexity_stderr", standardError.map { .number($0) } ?? .null),
            ("running_perplexity", .array(runningPerplexities.map { .number($0) })),
            ("seconds", .number(seconds)),
            ("chunk_seconds", .array(chunkSeconds.map { .number($0) })),
            ("tokens_per_second", .number(tokensPerSecond)),
            ("threads", .integer(threadCount)),
            ("residency", .string(residency.rawValue)),
        ])
    }
}
