// SPDX-License-Identifier: Apache-2.0
import Testing
import TensorCore

@Suite("HalfPrecision")
struct HalfPrecisionTests {
    @Test("every non-NaN binary16 value survives F16 → F32 → F16 exactly")
    func f16RoundTripsExhaustively() {
        for bits in 0...UInt16.max {
            let value = HalfPrecision.float(fromF16: bits)
            if value.isNaN {
                #expect(HalfPrecision.f16Bits(from: value) & 0x7C00 == 0x7C00)
                continue
            }
            #expect(HalfPrecision.f16Bits(from: value) == bits, "bits \(bits)")
        }
    }

    @Test("F32 → F16 rounds to nearest even like Swift's Float16 on random and boundary inputs")
    func f16RoundingMatchesFloat16() {
        var rng = SplitMix64(seed: 7)
        var inputs: [Float] = [65504, 65519.99, 65520, 65536, 6.1035156e-05, 5.9604645e-08, 2.9802322e-08,
                               2.9802326e-08, 1e-9, -0.0, 0.0, .infinity, -.infinity, 1.00048828125]
        for _ in 0..<200_000 {
            let bits = UInt32(truncatingIfNeeded: rng.next())
            let value = Float(bitPattern: bits & 0x8FFF_FFFF | 0x3000_0000)  // exponents around half range
            inputs.append(value)
        }
        for value in inputs where !value.isNaN {
            #expect(HalfPrecision.f16Bits(from: value) == Float16(value).bitPattern, "value \(value)")
        }
    }

    @Test("F32 → BF16 matches ggml's reference values, including NaN quieting and overflow")
    func bf16KnownValues() {
        #expect(HalfPrecision.bf16Bits(from: 1.00390625) == 0x3F80)
        #expect(HalfPrecision.bf16Bits(from: 1.01171875) == 0x3F82)
        #expect(HalfPrecision.bf16Bits(from: .nan) == 0x7FC0)
        #expect(HalfPrecision.bf16Bits(from: 3.4e38) == 0x7F80)
        #expect(HalfPrecision.bf16Bits(from: Float(bitPattern: 0x7F80_0001)) == 0x7FC0)
        #expect(HalfPrecision.float(fromBF16: 0x3F82) == 1.015625)
    }

    @Test("buffer conversions agree with the scalar functions")
    func bufferConversions() {
        let halves: [UInt16] = [0x3C00, 0xC000, 0x0001, 0x7BFF]
        var floats = [Float](repeating: 0, count: 4)
        halves.withUnsafeBufferPointer { s in
            floats.withUnsafeMutableBufferPointer { HalfPrecision.convertF16ToFloat(s, into: $0) }
        }
        #expect(floats == [1, -2, 5.9604645e-08, 65504])
        var back = [UInt16](repeating: 0, count: 4)
        floats.withUnsafeBufferPointer { s in
            back.withUnsafeMutableBufferPointer { HalfPrecision.convertFloatToF16(s, into: $0) }
        }
        #expect(back == halves)
    }
}

@Suite("Shape and type tables")
struct ShapeTests {
    @Test("element and byte counts are overflow-checked")
    func overflowChecked() {
        #expect(Shape.elementCount([]) == 1)
        #expect(Shape.elementCount([3, 0, 5]) == 0)
        #expect(Shape.elementCount([1 << 40, 1 << 30]) == nil)
        #expect(Shape.elementCount([-1]) == nil)
        #expect(Shape.byteCount([1 << 31, 1 << 31], bytesPerElement: 4) == nil)
        #expect(Shape.alignUp(33, to: 32) == 64)
        #expect(Shape.alignUp(Int.max - 3, to: 32) == nil)
    }

    @Test("ggml geometry matches ggml-common.h for the common types")
    func ggmlGeometry() {
        #expect(GGMLType.q4_K.blockSize == 256 && GGMLType.q4_K.typeSize == 144)
        #expect(GGMLType.q8_0.rowByteCount(elements: 64) == 68)
        #expect(GGMLType.q8_0.rowByteCount(elements: 65) == nil)
        #expect(GGMLType(name: "iq4_nl") == .iq4_NL)
        #expect(GGMLType(rawValue: 4) == nil)
        #expect(DType.bf16.byteSize == 2 && DType.f32.alignmentRank > DType.bf16.alignmentRank)
    }
}

@Suite("HalfPrecision vectorized buffers")
struct HalfPrecisionBufferTests {
    /// Every binary16 pattern, then the buffer converters, compared lane by lane with the scalar reference.
    @Test("eight-lane F16/BF16 → F32 conversions equal the scalar functions for every 16-bit pattern")
    func halvesToFloat() {
        let halves = (0...UInt16.max).map { $0 }
        var f16 = [Float](repeating: 0, count: halves.count)
        var bf16 = [Float](repeating: 0, count: halves.count)
        halves.withUnsafeBufferPointer { source in
            f16.withUnsafeMutableBufferPointer { HalfPrecision.convertF16ToFloat(source, into: $0) }
            bf16.withUnsafeMutableBufferPointer { HalfPrecision.convertBF16ToFloat(source, into: $0) }
        }
        for (i, bits) in halves.enumerated() {
            #expect(f16[i].bitPattern == HalfPrecision.float(fromF16: bits).bitPattern, "f16 \(bits)")
            #expect(bf16[i].bitPattern == HalfPrecision.float(fromBF16: bits).bitPattern, "bf16 \(bits)")
        }
    }

    @Test("eight-lane F32 → F16/BF16 conversions equal the scalar functions on random, special and tail inputs")
    func floatsToHalves() {
        var rng = SplitMix64(seed: 11)
        var floats: [Float] = [0, -0, .infinity, -.infinity, .nan, Float(bitPattern: 0x7F80_0001),
                               Float(bitPattern: 0xFFC1_2345), 65504, 65520, 65519.996, 6.1035156e-05,
                               6.1035153e-05, 2.9802322e-08, 2.9802326e-08, 1e-30, .greatestFiniteMagnitude]
        for _ in 0..<500_000 {
            floats.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())))
            floats.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x8FFF_FFFF | 0x3000_0000))
        }
        floats.append(1.5)  // odd count exercises the scalar tail
        var f16 = [UInt16](repeating: 0, count: floats.count)
        var bf16 = [UInt16](repeating: 0, count: floats.count)
        floats.withUnsafeBufferPointer { source in
            f16.withUnsafeMutableBufferPointer { HalfPrecision.convertFloatToF16(source, into: $0) }
            bf16.withUnsafeMutableBufferPointer { HalfPrecision.convertFloatToBF16(source, into: $0) }
        }
        var f16Mismatches = 0
        var bf16Mismatches = 0
        for (i, value) in floats.enumerated() {
            if f16[i] != HalfPrecision.f16Bits(from: value) { f16Mismatches += 1 }
            if bf16[i] != HalfPrecision.bf16Bits(from: value) { bf16Mismatches += 1 }
        }
        #expect(f16Mismatches == 0)
        #expect(bf16Mismatches == 0)
    }
}
