// SPDX-License-Identifier: Apache-2.0

/// A bitsandbytes 4-bit data type; the raw value is the `quant_type` string bitsandbytes writes.
public enum BitsAndBytes4BitType: String, CaseIterable, Sendable {
    /// NormalFloat4: 16 quantiles of N(0, 1) scaled to [-1, 1] (QLoRA).
    case nf4
    /// The bitsandbytes 4-bit float (1 sign, 2 exponent, 1 mantissa bit, exponent bias 2).
    case fp4

    /// The 16 code values indexed by the 4-bit code, as written to `weight.quant_map` (float32[16]).
    ///
    /// Same as bitsandbytes `functional.py` `get_4bit_type`. NF4 is the hard-coded table (already
    /// normalised). FP4 is {0, 0.0625, 8, 12, 4, 6, 2, 3} and its negation divided in float32 by 12; the
    /// source spells entry 8 as the Python integer `-0`, so it is +0.0, not -0.0.
    public var codebook: [Float] {
        switch self {
        case .nf4: Self.nf4Codebook
        case .fp4: Self.fp4Codebook
        }
    }

    static let nf4Codebook: [Float] = [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
        -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
        0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
        0.7229568362236023, 1.0,
    ]

    static let fp4Codebook: [Float] = [0, 0.0625, 8, 12, 4, 6, 2, 3, 0, -0.0625, -8, -12, -4, -6, -2, -3]
        .map { (raw: Float) in raw / 12 }

    /// Midpoint buckets over ``codebook``, built once per type.
    var buckets: BitsAndBytesCodeBuckets {
        switch self {
        case .nf4: Self.nf4Buckets
        case .fp4: Self.fp4Buckets
        }
    }

    private static let nf4Buckets = BitsAndBytesCodeBuckets(codebook: nf4Codebook)
    private static let fp4Buckets = BitsAndBytesCodeBuckets(codebook: fp4Codebook)
}
