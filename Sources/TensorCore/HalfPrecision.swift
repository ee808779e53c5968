// SPDX-License-Identifier: Apache-2.0

/// IEEE binary16 and bfloat16 conversions to and from `Float`, bit-exact with numpy and ggml.
///
/// - F16 → F32 is exact for every input (NaN payloads are kept).
/// - F32 → F16 rounds to nearest, ties to even, overflowing to ±inf, as numpy's `astype(np.float16)`
///   (`npy_floatbits_to_halfbits`); NaN keeps its top payload bits and stays a NaN.
/// - BF16 → F32 is the bit shift `u16 << 16`.
/// - F32 → BF16 rounds to nearest, ties to even; NaN becomes a quiet NaN (ggml `ggml_compute_fp32_to_bf16`,
///   gguf-py `BF16.quantize`).
public enum HalfPrecision {
    /// Converts one binary16 bit pattern to `Float`.
    @inline(__always)
    public static func float(fromF16 bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let magnitude = UInt32(bits & 0x7FFF)
        let shifted = magnitude << 13
        // Re-bias by multiplying with 2^112: exact for normals and subnormals alike.
        var value = Float(bitPattern: shifted) * Float(bitPattern: 0x7780_0000)
        if magnitude >= 0x7C00 { value = Float(bitPattern: shifted | 0x7F80_0000) }
        return Float(bitPattern: value.bitPattern | sign)
    }

    /// Converts a `Float` to its nearest binary16 bit pattern (ties to even).
    @inline(__always)
    public static func f16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {
            if magnitude == 0x7F80_0000 { return sign | 0x7C00 }
            let payload = UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3FF)
            return sign | 0x7C00 | (payload == 0 ? 1 : payload)
        }
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }  // rounds to 65536 or more
        if magnitude >= 0x3880_0000 {  // normal half
            var half = (magnitude &- 0x3800_0000) >> 13
            let rest = magnitude & 0x1FFF
            if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) { half += 1 }
            return sign | UInt16(truncatingIfNeeded: half)
        }
        if magnitude <= 0x3300_0000 { return sign }  // at most 2^-25: ties to even zero
        let exponent = magnitude >> 23
        let mantissa = (magnitude & 0x7F_FFFF) | 0x80_0000
        let shift = 126 &- exponent  // 14...24
        var half = mantissa >> shift
        let rest = mantissa & ((1 << shift) &- 1)
        let halfway = UInt32(1) << (shift &- 1)
        if rest > halfway || (rest == halfway && half & 1 == 1) { half += 1 }
        return sign | UInt16(truncatingIfNeeded: half)
    }

    /// Converts one bfloat16 bit pattern to `Float`.
    @inline(__always)
    public static func float(fromBF16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Converts a `Float` to bfloat16 bits (ties to even; NaN made quiet).
    @inline(__always)
    public static func bf16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: ((bits & 0xFFFF_0000) | 0x0040_0000) >> 16)
        }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// Converts a buffer of binary16 values to `Float`, eight lanes at a time. Traps if the buffers differ in length.
    public static func convertF16ToFloat(
        _ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>
    ) {
        vectorized(source, destination, lane: float(fromF16:)) { half in
            let h = SIMD8<UInt32>(truncatingIfNeeded: half)
            let sign = (h & 0x8000) &<< 16
            let magnitude = h & 0x7FFF
            let shifted = magnitude &<< 13
            let scaled = unsafeBitCast(shifted, to: SIMD8<Float>.self) * Float(bitPattern: 0x7780_0000)
            var bits = unsafeBitCast(scaled, to: SIMD8<UInt32>.self)
            bits.replace(with: shifted | 0x7F80_0000, where: magnitude .>= 0x7C00)
            return unsafeBitCast(bits | sign, to: SIMD8<Float>.self)
        }
    }

    /// Converts a buffer of bfloat16 values to `Float`. Traps if the buffers differ in length.
    public static func convertBF16ToFloat(
        _ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>
    ) {
        vectorized(source, destination, lane: float(fromBF16:)) { half in
            unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: half) &<< 16, to: SIMD8<Float>.self)
        }
    }

    /// Converts a buffer of `Float` to binary16 bits, eight lanes at a time. Traps if the buffers differ in length.
    ///
    /// Normals round by adding the rounding bias before the shift; subnormals let the FPU round by adding 0.5
    /// (whose ulp is 2^-24, the binary16 subnormal step) and subtracting its bits again.
    public static func convertFloatToF16(
        _ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>
    ) {
        vectorized(source, destination, lane: f16Bits(from:)) { value in
            let bits = unsafeBitCast(value, to: SIMD8<UInt32>.self)
            let sign = (bits &>> 16) & 0x8000
            let magnitude = bits & 0x7FFF_FFFF
            let lsb = (magnitude &>> 13) & 1
            var half = (magnitude &- 0x3800_0000 &+ 0xFFF &+ lsb) &>> 13
            let tiny = unsafeBitCast(magnitude, to: SIMD8<Float>.self) + 0.5
            half.replace(with: unsafeBitCast(tiny, to: SIMD8<UInt32>.self) &- 0x3F00_0000, where: magnitude .< 0x3880_0000)
            half.replace(with: 0x7C00, where: magnitude .>= 0x477F_F000)
            var payload = (magnitude &>> 13) & 0x3FF
            payload.replace(with: 1, where: payload .== 0)
            half.replace(with: 0x7C00 | payload, where: magnitude .> 0x7F80_0000)
            return SIMD8<UInt16>(truncatingIfNeeded: half | sign)
        }
    }

    /// Converts a buffer of `Float` to bfloat16 bits. Traps if the buffers differ in length.
    public static func convertFloatToBF16(
        _ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>
    ) {
        vectorized(source, destination, lane: bf16Bits(from:)) { value in
            let bits = unsafeBitCast(value, to: SIMD8<UInt32>.self)
            var rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
            rounded.replace(with: ((bits & 0xFFFF_0000) | 0x0040_0000) &>> 16, where: bits & 0x7FFF_FFFF .> 0x7F80_0000)
            return SIMD8<UInt16>(truncatingIfNeeded: rounded)
        }
    }

    /// Applies `body` to groups of eight elements and `lane` to the remainder.
    @inline(__always)
    private static func vectorized<Input: SIMDScalar, Output: SIMDScalar>(
        _ source: UnsafeBufferPointer<Input>, _ destination: UnsafeMutableBufferPointer<Output>,
        lane: (Input) -> Output, body: (SIMD8<Input>) -> SIMD8<Output>
    ) where SIMD8<Input>: SIMD, SIMD8<Output>: SIMD {
        precondition(source.count == destination.count, "buffer lengths differ")
        let vectorCount = source.count / 8
        guard let input = source.baseAddress, let output = destination.baseAddress else { return }
        let rawInput = UnsafeRawPointer(input)
        let rawOutput = UnsafeMutableRawPointer(output)
        for v in 0..<vectorCount {
            let loaded = rawInput.loadUnaligned(
                fromByteOffset: v * MemoryLayout<SIMD8<Input>>.stride, as: SIMD8<Input>.self)
            rawOutput.storeBytes(
                of: body(loaded), toByteOffset: v * MemoryLayout<SIMD8<Output>>.stride, as: SIMD8<Output>.self)
        }
        for i in (vectorCount * 8)..<source.count { destination[i] = lane(source[i]) }
    }
}
