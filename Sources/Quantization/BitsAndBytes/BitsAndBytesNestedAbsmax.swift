// SPDX-License-Identifier: Apache-2.0

/// How double quantization picks the 8-bit code of each centred absmax value.
public enum BitsAndBytesNestedRounding: String, CaseIterable, Sendable {
    /// The native bitsandbytes CPU kernel's 65536-point lookup table (`csrc/cpu_ops.cpp` `quantize_cpu_impl`).
    ///
    /// This is what a normal bitsandbytes install writes on CPU; it differs from nearest-code rounding for
    /// about 0.2% of values near zero, and codes an all-zero nested block as 0.
    case cpuLookupTable = "cpu-lut"
    /// Nearest code by midpoints, ties to the lower code (`backends/default/ops.py` `quantize_blockwise`).
    ///
    /// This is bitsandbytes' torch-native fallback; an all-zero nested block gets code 127 (0.0).
    case nearest
}

/// Double-quantized block absmax values: 8-bit dynamic-map codes, one float32 scale per 256 codes and an offset.
///
/// Stored as `weight.absmax` (U8[n_blocks]), `weight.nested_absmax` (F32[ceil(n_blocks / 256)]),
/// `weight.nested_quant_map` (F32[256], ``BitsAndBytesDynamicMap/values``) and the JSON `nested_offset`.
public struct BitsAndBytesNestedAbsmax: Sendable, Equatable {
    /// One dynamic-map code per 4-bit block (`weight.absmax`, uint8).
    public let codes: [UInt8]
    /// The absmax of each group of 256 centred values (`weight.nested_absmax`, float32).
    public let nestedAbsmax: [Float]
    /// The mean of the original absmax values (`nested_offset` in the quant-state JSON).
    public let offset: Float

    /// Wraps stored statistics after checking that their lengths agree and the floats are finite.
    ///
    /// - Throws: ``BitsAndBytesError/lengthMismatch(field:expected:actual:)`` when `nestedAbsmax` does not
    ///   hold one value per 256 codes; ``BitsAndBytesError/nonFiniteStatistic(field:)`` for NaN or infinity.
    public init(codes: [UInt8], nestedAbsmax: [Float], offset: Float) throws(BitsAndBytesError) {
        let groups = (codes.count + BitsAndBytesDynamicMap.nestedBlockSize - 1) / BitsAndBytesDynamicMap.nestedBlockSize
        guard nestedAbsmax.count == groups else {
            throw .lengthMismatch(field: "nested_absmax", expected: groups, actual: nestedAbsmax.count)
        }
        guard offset.isFinite else { throw .nonFiniteStatistic(field: "nested_offset") }
        guard nestedAbsmax.allSatisfy(\.isFinite) else { throw .nonFiniteStatistic(field: "nested_absmax") }
        self.codes = codes
        self.nestedAbsmax = nestedAbsmax
        self.offset = offset
    }

    /// Double-quantizes block absmax values as bitsandbytes `quantize_4bit(compress_statistics=True)` does.
    ///
    /// `offset = mean(absmax)` in float32, then the centred values `absmax - offset` are quantized in blocks
    /// of 256 against the dynamic map with `rounding`. The mean is NumPy's float32 mean (pairwise sum,
    /// see ``pairwiseSum(_:)``); torch sums in another order, so `offset` can differ from bitsandbytes' by
    /// about 1 ulp. Loaders read the offset from the JSON, so any float32 offset loads correctly.
    ///
    /// - Throws: ``BitsAndBytesError/nonFiniteOffset`` when the mean overflows.
    public init(quantizing absmax: [Float], rounding: BitsAndBytesNestedRounding) throws(BitsAndBytesError) {
        let mean = Float(Double(Self.pairwiseSum(absmax)) / Double(absmax.count))
        guard mean.isFinite else { throw .nonFiniteOffset }
        let centred = absmax.map { $0 - mean }
        var codes = [UInt8](repeating: 0, count: centred.count)
        let blockSize = BitsAndBytesDynamicMap.nestedBlockSize
        let nested = centred.withUnsafeBufferPointer { input in
            codes.withUnsafeMutableBufferPointer { output in
                switch rounding {
                case .cpuLookupTable:
                    BitsAndBytesBlockwise.quantizeCPULookupTable(input, blockSize: blockSize, codes: output)
                case .nearest:
                    BitsAndBytesBlockwise.quantizeDefaultBackend(
                        input, blockSize: blockSize, buckets: Self.dynamicBuckets, codes: output)
                }
            }
        }
        self.codes = codes
        nestedAbsmax = nested
        offset = mean
    }

    /// The recovered float32 absmax per 4-bit block: `map[code] * nestedAbsmax[b / 256] + offset`.
    ///
    /// Same as bitsandbytes `functional.py` `dequantize_4bit` for nested states: `dequantize_blockwise`
    /// (one float32 multiply) then `absmax += offset` (one float32 add).
    public func dequantized() -> [Float] {
        let map = BitsAndBytesDynamicMap.values
        return codes.indices.map { b in
            map[Int(codes[b])] * nestedAbsmax[b / BitsAndBytesDynamicMap.nestedBlockSize] + offset
        }
    }

    /// The float32 sum NumPy's `add.reduce` computes for a contiguous array.
    ///
    /// Same as `pairwise_sum` in NumPy `numpy/_core/src/umath/loops_utils.h.src`: fewer than 8 values are
    /// summed in order; up to 128 use 8 interleaved accumulators combined as ((0+1)+(2+3))+((4+5)+(6+7))
    /// plus the remainder in order; longer runs split at half the length rounded down to a multiple of 8.
    static func pairwiseSum(_ values: [Float]) -> Float {
        values.withUnsafeBufferPointer { 0 + pairwiseSum($0, 0, $0.count) }
    }

    private static func pairwiseSum(_ a: UnsafeBufferPointer<Float>, _ start: Int, _ n: Int) -> Float {
        if n < 8 {
            var sum: Float = -0.0
            for i in start..<start + n { sum += a[i] }
            return sum
        }
        if n <= 128 {
            var r = (a[start], a[start + 1], a[start + 2], a[start + 3],
                     a[start + 4], a[start + 5], a[start + 6], a[start + 7])
            var i = 8
            while i < n - n % 8 {
                let p = start + i
                r.0 += a[p]; r.1 += a[p + 1]; r.2 += a[p + 2]; r.3 += a[p + 3]
                r.4 += a[p + 4]; r.5 += a[p + 5]; r.6 += a[p + 6]; r.7 += a[p + 7]
                i += 8
            }
            var sum = ((r.0 + r.1) + (r.2 + r.3)) + ((r.4 + r.5) + (r.6 + r.7))
            while i < n {
                sum += a[start + i]
                i += 1
            }
            return sum
        }
        var half = n / 2
        half -= half % 8
        return pairwiseSum(a, start, half) + pairwiseSum(a, start + half, n - half)
    }

    private static let dynamicBuckets = BitsAndBytesCodeBuckets(codebook: BitsAndBytesDynamicMap.values)
}
