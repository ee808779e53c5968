// SPDX-License-Identifier: Apache-2.0
import Foundation

/// What `quail calibrate` prints: the sampling, the data and model digests, and the time.
public struct CalibrationReport: Sendable {
    /// The JSON form.
    public let json: JSONValue
    /// The human form.
    public let text: String

    /// Describes `result`, written to `output`.
    public init(result: CalibrationRun.Result, output: String) {
        let p = result.provenance
        let rate = result.seconds > 0 ? Double(p.tokens) / result.seconds : 0
        json = .object([
            ("output", .string(output)), ("shard", .string(p.shard.description)),
            ("samples", .integer(p.sampler.samples)), ("seq_len", .integer(p.sampler.sequenceLength)),
            ("seed", Int(exactly: p.sampler.seed).map { .integer($0) } ?? .string(String(p.sampler.seed))),
            ("sequences", .integer(p.sequences)),
            ("tokens", .integer(p.tokens)), ("text_tokens", .integer(result.streamTokens)),
            ("tokens_per_dimension", .number(result.tokensPerDimension)), ("model_digest", .string(p.modelDigest)),
            ("tokenizer_digest", .string(p.tokenizerDigest)), ("data_digest", .string(p.dataDigest)),
            ("seconds", .number(result.seconds)), ("tokens_per_second", .number(rate)),
        ])
        let seconds = String(format: "%.1f", result.seconds)
        let perDimension = String(format: "%.2f", result.tokensPerDimension)
        text = """
            calibration: \(p.sequences) of \(p.sampler.samples) sequences (shard \(p.shard)) × \
            \(p.sampler.sequenceLength) tokens from \(result.streamTokens) text tokens, seed \(p.sampler.seed)
            tokens per Gram dimension (whole run): \(perDimension)
            \(p.tokens) tokens in \(seconds) s (\(String(format: "%.0f", rate)) tokens/s) -> \(output)
            """
    }
}
