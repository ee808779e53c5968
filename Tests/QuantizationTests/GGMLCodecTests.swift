// SPDX-License-Identifier: Apache-2.0
import Foundation
import Quantization
import TensorCore
import Testing

/// Properties of ``GGMLCodec`` that hold for any input: error bounds, chunking invariance and input checks.
@Suite("ggml codec properties")
struct GGMLCodecTests {
    static let blockTypes: [GGMLType] = [
        .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL,
    ]

    /// Gaussian values whose scale changes every 256 elements (one K-quant super-block) over four decades.
    static func sample(count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        var scale: Double = 1
        return (0..<count).map { i in
            if i % 256 == 0 { scale = Double.random(in: -2...2, using: &rng) }
            return Float(rng.nextGaussian() * pow(10, scale))
        }
    }

    static func quantize(_ x: [Float], _ type: GGMLType) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: type.rowByteCount(elements: x.count) ?? 0)
        try x.withUnsafeBufferPointer { source throws in
            try bytes.withUnsafeMutableBytes { output throws in
                try GGMLCodec.quantize(source, as: type, into: output)
            }
        }
        return bytes
    }

    static func dequantize(_ bytes: [UInt8], _ type: GGMLType, count: Int) throws -> [Float] {
        var values = [Float](repeating: .nan, count: count)
        try bytes.withUnsafeBytes { input throws in
            try values.withUnsafeMutableBufferPointer { output throws in
                try GGMLCodec.dequantize(input, as: type, into: output)
            }
        }
        return values
    }

    /// Upper bounds on the RMS round-trip error of each 256-element group relative to that group's RMS for
    /// Gaussian data (about 1.5× the values measured on this sample; ordered by bits per weight).
    static let relativeErrorBound: [GGMLType: Float] = [
        .q8_0: 0.008, .q6_K: 0.026, .q5_K: 0.05, .q5_1: 0.053, .q5_0: 0.062, .q4_K: 0.1,
        .iq4_NL: 0.106,
        .q4_1: 0.112, .q4_0: 0.125, .q3_K: 0.22, .q2_K: 0.42,
    ]

    @Test("quantize then dequantize stays within each type's error bound", arguments: blockTypes)
    func roundTripError(_ type: GGMLType) throws {
        let x = Self.sample(count: 64 * 256, seed: 7)
        let y = try Self.dequantize(try Self.quantize(x, type), type, count: x.count)
        var worst: Float = 0
        for group in stride(from: 0, to: x.count, by: 256) {
            let range = group..<group + 256
            let rms = (range.reduce(Float(0)) { $0 + x[$1] * x[$1] } / 256).squareRoot()
            let err = (range.reduce(Float(0)) { $0 + (x[$1] - y[$1]) * (x[$1] - y[$1]) } / 256)
                .squareRoot()
            worst = max(worst, err / rms)
        }
        let bound = try #require(Self.relativeErrorBound[type])
        #expect(worst <= bound, "\(type.name): worst relative RMS error \(worst)")
    }

    @Test("F32 round-trips exactly, F16 and BF16 within half an ulp of their precision")
    func floatTypes() throws {
        let x = Self.sample(count: 4096, seed: 11)
        #expect(
            try Self.dequantize(try Self.quantize(x, .f32), .f32, count: x.count).map(\.bitPattern)
                == x.map(\.bitPattern))
        for (type, ulp) in [(GGMLType.f16, Float(0x1p-11)), (.bf16, Float(0x1p-8))] {
            let y = try Self.dequantize(try Self.quantize(x, type), type, count: x.count)
            // F16 subnormals carry fewer bits, so only normal-range values are held to the bound.
            let normal = zip(x, y).filter { abs($0.0) >= 0x1p-14 }
            let worst = normal.map { abs($0 - $1) / abs($0) }.max() ?? 0
            #expect(worst <= ulp, "\(type.name): worst relative error \(worst)")
        }
    }

    @Test("all-zero input encodes to blocks that decode to zeros", arguments: blockTypes)
    func zeros(_ type: GGMLType) throws {
        let x = [Float](repeating: 0, count: 512)
        let bytes = try Self.quantize(x, type)
        #expect(try Self.dequantize(bytes, type, count: x.count).allSatisfy { $0 == 0 })
    }

    /// The chunking is shared by all types (`BlockRunner`); one type per block geometry keeps this fast.
    @Test(
        "a buffer split over parallel chunks encodes and decodes like its slices",
        arguments: [GGMLType.f16, .q8_0, .q5_1, .q3_K, .q6_K])
    func chunkingInvariance(_ type: GGMLType) throws {
        // One full 65536-element chunk and a partial one.
        let x = Self.sample(count: (1 << 16) + 3 * 256, seed: 3)
        let whole = try Self.quantize(x, type)
        let slice = 4096
        var pieces: [UInt8] = []
        for start in stride(from: 0, to: x.count, by: slice) {
            pieces += try Self.quantize(Array(x[start..<min(x.count, start + slice)]), type)
        }
        #expect(whole == pieces)
        let decoded = try Self.dequantize(whole, type, count: x.count)
        let rowBytes = try #require(type.rowByteCount(elements: slice))
        for (i, start) in stride(from: 0, to: x.count, by: slice).enumerated() {
            let count = min(slice, x.count - start)
            let part = Array(whole[(i * rowBytes)..<min(whole.count, i * rowBytes + rowBytes)])
            let expected = try Self.dequantize(part, type, count: count)
            #expect(decoded[start..<start + count].map(\.bitPattern) == expected.map(\.bitPattern))
        }
    }

    @Test("a length that is not whole blocks throws lengthNotMultipleOfBlock")
    func partialBlock() {
        let x = [Float](repeating: 1, count: 48)
        var bytes = [UInt8](repeating: 0, count: 64)
        #expect(
            throws: QuantizationError.lengthNotMultipleOfBlock(
                elements: 48, blockSize: 32, type: .q4_0)
        ) {
            try x.withUnsafeBufferPointer { source in
                try bytes.withUnsafeMutableBytes {
                    try GGMLCodec.quantize(source, as: .q4_0, into: $0)
                }
            }
        }
        var y = [Float](repeating: 0, count: 300)
        #expect(
            throws: QuantizationError.lengthNotMultipleOfBlock(
                elements: 300, blockSize: 256, type: .q6_K)
        ) {
            try bytes.withUnsafeBytes { input in
                try y.withUnsafeMutableBufferPointer {
                    try GGMLCodec.dequantize(input, as: .q6_K, into: $0)
                }
            }
        }
    }

    @Test("a byte buffer of the wrong size throws bufferSizeMismatch in both directions")
    func wrongByteCount() {
        let x = [Float](repeating: 1, count: 64)
        var tooSmall = [UInt8](repeating: 0, count: 35)
        #expect(throws: QuantizationError.bufferSizeMismatch(expected: 36, actual: 35)) {
            try x.withUnsafeBufferPointer { source in
                try tooSmall.withUnsafeMutableBytes {
                    try GGMLCodec.quantize(source, as: .q4_0, into: $0)
                }
            }
        }
        let tooLarge = [UInt8](repeating: 0, count: 69)
        var y = [Float](repeating: 0, count: 64)
        #expect(throws: QuantizationError.bufferSizeMismatch(expected: 68, actual: 69)) {
            try tooLarge.withUnsafeBytes { input in
                try y.withUnsafeMutableBufferPointer {
                    try GGMLCodec.dequantize(input, as: .q8_0, into: $0)
                }
            }
        }
    }

    @Test(
        "types without a codec throw unsupportedType and report false from canQuantize/canDequantize"
    )
    func unsupportedTypes() {
        for type in [GGMLType.q8_1, .q8_K, .iq2_XXS, .iq4_XS, .tq1_0, .mxfp4, .i8, .f64] {
            #expect(!GGMLCodec.canQuantize(type) && !GGMLCodec.canDequantize(type))
            let x = [Float](repeating: 0, count: 256)
            var bytes = [UInt8](repeating: 0, count: 4096)
            #expect(throws: QuantizationError.unsupportedType(type)) {
                try x.withUnsafeBufferPointer { source in
                    try bytes.withUnsafeMutableBytes {
                        try GGMLCodec.quantize(source, as: type, into: $0)
                    }
                }
            }
        }
        for type in Self.blockTypes + [.f32, .f16, .bf16] {
            #expect(GGMLCodec.canQuantize(type) && GGMLCodec.canDequantize(type))
        }
    }

    @Test(
        "NaN or infinity in the input of a block type throws nonFiniteValue with the first bad index"
    )
    func nonFiniteInput() throws {
        var x = Self.sample(count: 1 << 18, seed: 5)
        x[200_001] = .infinity
        x[150_000] = .nan
        #expect(throws: QuantizationError.nonFiniteValue(index: 150_000, type: .q4_K)) {
            try Self.quantize(x, .q4_K)
        }
        let halves = try Self.dequantize(try Self.quantize(x, .f16), .f16, count: x.count)
        #expect(halves[200_001] == .infinity && halves[150_000].isNaN)
    }

    @Test("empty buffers are accepted")
    func emptyBuffers() throws {
        #expect(try Self.quantize([], .q4_K).isEmpty)
        #expect(try Self.dequantize([], .iq4_NL, count: 0).isEmpty)
    }

    @Test("error descriptions name the type and the broken rule")
    func descriptions() {
        #expect(QuantizationError.unsupportedType(.iq2_XXS).description.contains("IQ2_XXS"))
        #expect(
            QuantizationError.lengthNotMultipleOfBlock(elements: 48, blockSize: 32, type: .q4_0)
                .description
                == "48 elements are not a whole number of Q4_0 blocks of 32")
        #expect(
            QuantizationError.nonFiniteValue(index: 7, type: .q8_0).description.contains(
                "element 7"))
    }
}
