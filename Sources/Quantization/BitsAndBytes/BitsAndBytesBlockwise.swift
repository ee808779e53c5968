// SPDX-License-Identifier: Apache-2.0

/// Blockwise absmax quantization kernels shared by the 4-bit codes and the nested 8-bit codes.
enum BitsAndBytesBlockwise {
    /// `absmax.clamp(min=1e-38)` in bitsandbytes `backends/default/ops.py` (a float32 subnormal).
    static let absmaxFloor: Float = 1e-38

    /// Quantizes `values` block by block; writes one code per value and returns the stored absmax values.
    ///
    /// Same as `quantize_4bit` / `quantize_blockwise` in bitsandbytes `backends/default/ops.py`, which is
    /// the torch-native code bitsandbytes runs for 4-bit quantization on CPU. Full blocks store
    /// `absmax = max|x|` unclamped and scale by `x * (1 / max(absmax, 1e-38))`; a trailing partial block
    /// stores `am = max(max|x|, 1e-38)` and scales by true division `x / am`. Scaled values are clamped to
    /// [-1, 1] and coded by ``BitsAndBytesCodeBuckets``. An all-zero full block stores absmax 0 and the code
    /// of 0.0 (NF4 0x7; FP4 0x0); an all-zero partial block stores 1e-38.
    ///
    /// Traps unless `codes.count >= values.count` and `blockSize > 0` (programmer errors).
    static func quantizeDefaultBackend(
        _ values: UnsafeBufferPointer<Float>, blockSize: Int, buckets: BitsAndBytesCodeBuckets,
        codes: UnsafeMutableBufferPointer<UInt8>
    ) -> [Float] {
        precondition(blockSize > 0 && codes.count >= values.count, "code buffer too small")
        let blockCount = (values.count + blockSize - 1) / blockSize
        var absmaxes = [Float](repeating: 0, count: blockCount)
        for block in 0..<blockCount {
            let range = block * blockSize..<min((block + 1) * blockSize, values.count)
            let absmax = blockAbsmax(values, range)
            if range.count == blockSize {
                absmaxes[block] = absmax
                let reciprocal = 1 / max(absmax, absmaxFloor)
                for i in range { codes[i] = buckets.code(for: clampUnit(values[i] * reciprocal)) }
            } else {
                let stored = max(absmax, absmaxFloor)
                absmaxes[block] = stored
                for i in range { codes[i] = buckets.code(for: clampUnit(values[i] / stored)) }
            }
        }
        return absmaxes
    }

    /// Quantizes `values` to dynamic-map codes as the native bitsandbytes CPU kernel does.
    ///
    /// Same as `quantize_cpu_impl` (float32 input) in bitsandbytes `csrc/cpu_ops.cpp`, which bitsandbytes
    /// registers for `quantize_blockwise` on CPU when its native library is loaded (a normal install).
    /// Every block, partial or not, stores `absmax = max|x|`; a block whose absmax is 0 gets code 0.
    /// Otherwise `v = clamp(x * (1 / absmax), -1, 1)`, `j = UInt16(fma((v + 1) * 0.5, 65535, 0.5))` (GCC
    /// contracts that multiply-add: C++ default `-ffp-contract=fast` under `target("avx2,fma")`) and the code
    /// is ``cpuLookupTable``[j].
    ///
    /// Traps unless `codes.count >= values.count` and `blockSize > 0` (programmer errors).
    static func quantizeCPULookupTable(
        _ values: UnsafeBufferPointer<Float>, blockSize: Int, codes: UnsafeMutableBufferPointer<UInt8>
    ) -> [Float] {
        precondition(blockSize > 0 && codes.count >= values.count, "code buffer too small")
        let table = cpuLookupTable
        let blockCount = (values.count + blockSize - 1) / blockSize
        var absmaxes = [Float](repeating: 0, count: blockCount)
        for block in 0..<blockCount {
            let range = block * blockSize..<min((block + 1) * blockSize, values.count)
            let absmax = blockAbsmax(values, range)
            absmaxes[block] = absmax
            guard absmax != 0 else {
                for i in range { codes[i] = 0 }
                continue
            }
            let reciprocal = 1 / absmax
            for i in range {
                let half = (clampUnit(values[i] * reciprocal) + 1) * 0.5
                codes[i] = table[Int(UInt16((0.5 as Float).addingProduct(half, 65535)))]
            }
        }
        return absmaxes
    }

    /// The 65536-entry grid-to-code table of the native CPU kernel, built from the dynamic map.
    ///
    /// Same as `build_quantize_lut` in bitsandbytes `csrc/cpu_ops.cpp`: grid point `i` is
    /// `-1 + (2 * i) / 65535` in float32 and maps to the number of map midpoints `0.5 * (a + b)` below it.
    static let cpuLookupTable: [UInt8] = {
        let map = BitsAndBytesDynamicMap.values
        let midpoints = (0..<(map.count - 1)).map { 0.5 * (map[$0] + map[$0 + 1]) }
        var table = [UInt8](repeating: 0, count: 65536)
        var code = 0
        for i in 0..<65536 {
            let point: Float = -1 + (2 * Float(i)) / 65535
            while code < midpoints.count && midpoints[code] < point { code += 1 }
            table[i] = UInt8(truncatingIfNeeded: code)
        }
        return table
    }()

    /// The index and count of NaN or infinite values, or nil when all are finite.
    static func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> (count: Int, firstIndex: Int)? {
        var count = 0
        var first = -1
        for (i, value) in values.enumerated() where !value.isFinite {
            if count == 0 { first = i }
            count += 1
        }
        return count == 0 ? nil : (count, first)
    }

    @inline(__always)
    private static func blockAbsmax(_ values: UnsafeBufferPointer<Float>, _ range: Range<Int>) -> Float {
        var absmax: Float = 0
        for i in range { absmax = max(absmax, abs(values[i])) }
        return absmax
    }

    @inline(__always)
    private static func clampUnit(_ x: Float) -> Float { min(max(x, -1), 1) }
}
