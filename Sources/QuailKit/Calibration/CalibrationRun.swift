// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import Transformer

/// Runs the full-precision model on sampled calibration text and sums the Gram matrix of every linear input.
public enum CalibrationRun {
    /// How to sample and run.
    public struct Options: Sendable {
        /// Samples, sequence length, seed.
        public var sampler: CalibrationSamplerSettings
        /// The share of the samples to run.
        public var shard: CalibrationShard
        /// The least number of sampled tokens (whole run, all shards) per dimension of the largest Gram matrix.
        public var minimumTokensPerDimension: Double
        /// Threads of the forward pass (nil: OpenBLAS's count).
        public var threadCount: Int?

        /// Options with `quail calibrate`'s defaults.
        public init(
            sampler: CalibrationSamplerSettings = .init(), shard: CalibrationShard = .whole,
            minimumTokensPerDimension: Double = 1, threadCount: Int? = nil
        ) {
            self.sampler = sampler
            self.shard = shard
            self.minimumTokensPerDimension = minimumTokensPerDimension
            self.threadCount = threadCount
        }
    }

    /// The outcome of a run.
    public struct Result {
        /// The summed Gram matrices.
        public let grams: [GramKey: DoubleMatrix]
        /// What ran on what.
        public let provenance: CalibrationProvenance
        /// Tokens in the calibration text (the sampled stream).
        public let streamTokens: Int
        /// Sampled tokens of the whole run divided by the order of the largest Gram matrix.
        public let tokensPerDimension: Double
        /// Seconds spent in forward passes and accumulation.
        public let seconds: Double
    }

    /// Tokenizes `data` with the model's tokenizer, samples it, checks there is enough of it, and runs the
    /// model on this shard's samples.
    ///
    /// - Throws: ``CalibrationError`` (too little text or tokens, bad settings, non-finite activations, checked
    ///   before the first forward pass except the last), the tokenizer's and decoder's errors.
    public static func run(
        _ weights: CheckpointWeights, data: CalibrationData, options: Options,
        progress: any ProgressReporting = SilentProgress()
    ) throws -> Result {
        try options.sampler.validate()
        guard options.minimumTokensPerDimension >= 0, options.minimumTokensPerDimension.isFinite else {
            throw CalibrationError.invalidSetting(
                name: "--min-tokens-per-dim", value: "\(options.minimumTokensPerDimension)",
                rule: "must be finite and ≥ 0")
        }
        let configuration = weights.configuration
        let dimension = LinearGroup.allCases.map { $0.inputDimension(configuration) }.max() ?? 1
        let totalTokens = options.sampler.samples * options.sampler.sequenceLength
        let perDimension = Double(totalTokens) / Double(dimension)
        guard perDimension >= options.minimumTokensPerDimension else {
            throw CalibrationError.tooFewTokens(
                tokens: totalTokens, dimension: dimension, minimumPerDimension: options.minimumTokensPerDimension)
        }
        let tokenizer = try CheckpointTokenizer(checkpointAt: weights.url)
        let stream = data.documents.flatMap { tokenizer.encode($0) }
        let samples = try CalibrationSampler.samples(
            from: stream, bos: BOSPolicy(tokenizer), settings: options.sampler, shard: options.shard,
            paths: data.paths)
        let modelDigest = try CheckpointDigest.model(at: weights.url)
        let tokenizerDigest = CheckpointDigest.tokenizer(try weights.tokenizerMetadata())

        let model = LlamaModel(
            configuration: configuration, source: weights, residency: .resident, threads: options.threadCount)
        let accumulator = GramAccumulator(threads: model.threadCount)
        let clock = ContinuousClock()
        let start = clock.now
        for (done, sample) in samples.enumerated() {
            let rows = sample.tokens.count
            _ = try model.forward(tokens: sample.tokens, logitRows: (rows - 1)..<rows, observer: accumulator)
            try accumulator.requireFinite()
            progress.update(completed: done + 1, total: samples.count, label: "sample \(sample.number + 1)")
        }
        progress.finish()
        var grams = accumulator.grams
        if samples.isEmpty {
            for layer in 0..<configuration.layerCount {
                for group in LinearGroup.allCases {
                    let n = group.inputDimension(configuration)
                    grams[GramKey(layer: layer, group: group)] = DoubleMatrix(zeros: n, n)
                }
            }
        }
        let provenance = CalibrationProvenance(
            modelDigest: modelDigest, tokenizerDigest: tokenizerDigest, dataDigest: data.digest,
            dataFiles: data.paths.map { URL(fileURLWithPath: $0).lastPathComponent }, field: data.field,
            sampler: options.sampler, shard: options.shard, sequences: samples.count,
            tokens: accumulator.tokenCount, layers: configuration.layerCount)
        return Result(
            grams: grams, provenance: provenance, streamTokens: stream.count, tokensPerDimension: perDimension,
            seconds: (clock.now - start).seconds)
    }
}
