// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// How many sequences of how many tokens to draw, and from which seed.
public struct CalibrationSamplerSettings: Equatable, Sendable {
    /// Sequences (`--samples`).
    public var samples: Int
    /// Tokens per sequence, BOS included when the model adds it (`--seq-len`).
    public var sequenceLength: Int
    /// Seed of the start positions (`--seed`).
    public var seed: UInt64

    /// Settings with the defaults of `quail calibrate` (128 sequences of 512 tokens, seed 0).
    public init(samples: Int = 128, sequenceLength: Int = 512, seed: UInt64 = 0) {
        self.samples = samples
        self.sequenceLength = sequenceLength
        self.seed = seed
    }

    /// Checks the ranges.
    ///
    /// - Throws: ``CalibrationError/invalidSetting(name:value:rule:)``.
    public func validate() throws(CalibrationError) {
        guard samples >= 1 else { throw .invalidSetting(name: "--samples", value: "\(samples)", rule: "must be ≥ 1") }
        guard sequenceLength >= 2 else {
            throw .invalidSetting(name: "--seq-len", value: "\(sequenceLength)", rule: "must be ≥ 2")
        }
    }
}

/// A deterministic share of the samples: shard `index` of `count` (1-based) holds the samples whose 0-based
/// number `k` has `k mod count == index − 1`.
public struct CalibrationShard: Equatable, Sendable, CustomStringConvertible {
    /// 1-based shard number.
    public let index: Int
    /// Number of shards.
    public let count: Int

    /// Every sample.
    public static let whole = CalibrationShard(validIndex: 1, count: 1)

    private init(validIndex: Int, count: Int) {
        self.index = validIndex
        self.count = count
    }

    /// Parses `i/N` with `1 ≤ i ≤ N`.
    ///
    /// - Throws: ``CalibrationError/invalidSetting(name:value:rule:)``.
    public init(parsing text: String) throws(CalibrationError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1,
            (1...count).contains(index)
        else {
            throw .invalidSetting(name: "--shard", value: text, rule: "expected i/N with 1 ≤ i ≤ N")
        }
        self.init(validIndex: index, count: count)
    }

    /// Whether sample `k` (0-based) belongs to this shard.
    public func contains(sample k: Int) -> Bool { k % count == index - 1 }

    /// `i/N`.
    public var description: String { "\(index)/\(count)" }
}

/// One calibration sequence.
public struct CalibrationSample: Equatable, Sendable {
    /// The 0-based sample number.
    public let number: Int
    /// Where its text tokens start in the token stream.
    public let start: Int
    /// The tokens the model runs on (BOS first when the model adds it).
    public let tokens: [Int]
}

/// Draws calibration sequences from a token stream (formats/calibration-stats.md, "Sampler").
///
/// The stream is the documents' tokens concatenated (no special tokens between them). Sample `k` takes
/// `c = L − 1` stream tokens after BOS when the model adds BOS, else `c = L`, starting at `s_k = u_k mod (n − c + 1)`
/// where `u_0, u_1, …` are the outputs of SplitMix64 seeded with `seed` and `n` is the stream length. Starts are
/// drawn with replacement, so the samples of a shard are the same whatever the number of samples after them.
public enum CalibrationSampler {
    /// The samples of `shard` in sample order.
    ///
    /// - Throws: ``CalibrationError/textTooShort(paths:tokens:needed:)`` when the stream is shorter than `c`.
    public static func samples(
        from stream: [Int], bos: BOSPolicy, settings: CalibrationSamplerSettings, shard: CalibrationShard = .whole,
        paths: [String]
    ) throws(CalibrationError) -> [CalibrationSample] {
        try settings.validate()
        let prefix = bos.addsBOS ? bos.bosID.map { [$0] } ?? [] : []
        let content = settings.sequenceLength - prefix.count
        guard stream.count >= content else {
            throw .textTooShort(paths: paths, tokens: stream.count, needed: content)
        }
        let span = UInt64(stream.count - content + 1)
        var generator = SplitMix64(seed: settings.seed)
        var samples: [CalibrationSample] = []
        for k in 0..<settings.samples {
            let start = Int(generator.next() % span)
            guard shard.contains(sample: k) else { continue }
            samples.append(
                CalibrationSample(number: k, start: start, tokens: prefix + stream[start..<(start + content)]))
        }
        return samples
    }
}
