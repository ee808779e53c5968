// SPDX-License-Identifier: Apache-2.0
import Foundation
import Transformer

/// Perplexity of a model on a token sequence with llama.cpp's `llama-perplexity` rule.
///
/// The rule (llama.cpp tools/perplexity/perplexity.cpp, `perplexity`): split the tokens into `⌊N / ctx⌋` chunks of
/// `ctx` tokens (the tail is dropped), evaluate each chunk independently from position 0 with its first token
/// replaced by BOS when the model adds BOS, and score only the second half: the logits at positions
/// `ctx/2 … ctx−2` predicting the tokens at `ctx/2+1 … ctx−1`. Perplexity is `exp` of the mean negative
/// log-likelihood over all scored tokens.
public enum PerplexityEvaluation {
    /// How to run the evaluation.
    public struct Options: Sendable {
        /// Tokens per chunk (`--ctx`).
        public var contextLength: Int
        /// Evaluate at most this many chunks (`--chunks`); nil evaluates all.
        public var chunkLimit: Int?
        /// Keep decoded weights between chunks, or decode each block per chunk.
        public var residency: WeightResidency
        /// Threads (`--threads`); nil uses OpenBLAS's count (`OPENBLAS_NUM_THREADS`, else the number of cores).
        public var threadCount: Int?

        /// Creates options (llama.cpp's defaults: 512-token chunks, all of them).
        public init(
            contextLength: Int = 512, chunkLimit: Int? = nil, residency: WeightResidency = .resident,
            threadCount: Int? = nil
        ) {
            self.contextLength = contextLength
            self.chunkLimit = chunkLimit
            self.residency = residency
            self.threadCount = threadCount
        }
    }

    /// The smallest context that scores at least one token.
    public static let minimumContextLength = 3

    /// Checks tokens and options against the model before any weights are decoded.
    ///
    /// - Throws: ``EvaluationError`` for a context too small, too few tokens, or an out-of-vocabulary id.
    public static func validate(
        tokens: [Int], source path: String, configuration: LlamaConfiguration, options: Options
    ) throws(EvaluationError) {
        guard options.contextLength >= minimumContextLength else {
            throw .contextTooSmall(contextLength: options.contextLength, minimum: minimumContextLength)
        }
        guard !tokens.isEmpty else { throw .emptyText(path: path) }
        guard tokens.count >= options.contextLength else {
            throw .textTooShort(path: path, tokens: tokens.count, needed: options.contextLength)
        }
        if let index = tokens.firstIndex(where: { $0 >= configuration.vocabSize }) {
            throw .tokenOutOfRange(
                path: path, index: index, token: tokens[index], vocabularySize: configuration.vocabSize)
        }
    }

    /// Evaluates `tokens` (from the file at `source`, named in errors and the report), with `adapter` merged into
    /// the weights when given.
    ///
    /// - Throws: ``EvaluationError`` (checked first, before any decoding), then decoding errors.
    public static func evaluate(
        _ weights: CheckpointWeights, tokens: [Int], source: String, bos: BOSPolicy, options: Options = Options(),
        adapter: LoRAAdapter? = nil, progress: any ProgressReporting = SilentProgress()
    ) throws -> PerplexityReport {
        let configuration = weights.configuration
        try validate(tokens: tokens, source: source, configuration: configuration, options: options)
        if bos.addsBOS, let id = bos.bosID, id >= configuration.vocabSize {
            throw EvaluationError.tokenOutOfRange(
                path: weights.url.path, index: 0, token: id, vocabularySize: configuration.vocabSize)
        }
        let ctx = options.contextLength
        let chunkCount = min(tokens.count / ctx, options.chunkLimit ?? .max)
        let first = ctx / 2
        let model = LlamaModel(
            configuration: configuration, source: AdaptedWeights(base: weights, adapter: adapter),
            residency: options.residency, threads: options.threadCount)
        var accumulator = PerplexityAccumulator()
        var running: [Double] = []
        var chunkSeconds: [Double] = []
        let clock = ContinuousClock()
        for chunk in 0..<chunkCount {
            let chunkStart = clock.now
            var ids = Array(tokens[chunk * ctx..<(chunk + 1) * ctx])
            if bos.addsBOS, let id = bos.bosID { ids[0] = id }
            // logits (ctx − 1 − first, V) for positions first ..< ctx − 1
            let logits = try model.forward(tokens: ids, logitRows: first..<(ctx - 1))
            let targets = Array(tokens[(chunk * ctx + first + 1)..<((chunk + 1) * ctx)])
            accumulator.add(logits: logits, targets: targets, threads: model.threadCount)
            running.append(accumulator.perplexity)
            chunkSeconds.append((clock.now - chunkStart).seconds)
            progress.update(
                completed: chunk + 1, total: chunkCount, label: String(format: "ppl %.4f", accumulator.perplexity))
        }
        progress.finish()
        return PerplexityReport(
            model: weights.url.path, source: source, tokenCount: tokens.count, contextLength: ctx,
            chunkCount: chunkCount, scoredTokenCount: accumulator.count, addsBOS: bos.addsBOS,
            perplexity: accumulator.perplexity, standardError: accumulator.standardError, runningPerplexities: running,
            chunkSeconds: chunkSeconds, threadCount: model.threadCount, residency: options.residency,
            storedTypes: weights.storedTypes)
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
