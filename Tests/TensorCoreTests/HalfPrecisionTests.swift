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
