// SPDX-License-Identifier: Apache-2.0
import Quantization
import TensorCore
import Testing

/// Bit-exact comparison with committed vectors from gguf-py 0.19.0 and from ggml's C reference quantizers.
@Suite("ggml codec reference vectors")
struct GGMLVectorTests {
    @Test("both vector indexes load and list every codec type")
    func indexesLoad() throws {
        let gguf = try #require(GGMLVectors.gguf)
        let ggmlC = try #require(GGMLVectors.ggmlC)
        let dequantized = Set((gguf.dequantize ?? []).compactMap(\.ggmlType))
        let quantized = Set((gguf.quantize + ggmlC.quantize).compactMap(\.ggmlType))
        let blockTypes: Set<GGMLType> = [
            .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL,
        ]
        #expect(dequantized == blockTypes.union([.f32, .f16, .bf16]))
        #expect(quantized == blockTypes.union([.f16, .bf16]))
    }

    @Test(
        "dequantization matches gguf-py bit for bit", arguments: GGMLVectors.gguf?.dequantize ?? [])
    func dequantizeMatchesGGUFPy(_ vector: GGMLVectors.Case) throws {
        let index = try #require(GGMLVectors.gguf)
        let type = try #require(vector.ggmlType)
        let blocks = try GGMLVectors.bytes(vector.input, in: index)
        let expected = try GGMLVectors.floats(vector.expected, in: index)
        try #require(expected.count == vector.elements)
        var actual = [Float](repeating: .nan, count: vector.elements)
        try blocks.withUnsafeBytes { bytes in
            try actual.withUnsafeMutableBufferPointer { output in
                try GGMLCodec.dequantize(bytes, as: type, into: output)
            }
        }
        let mismatch = BlockMismatch(
            actual.map(\.bitPattern), expected.map(\.bitPattern), stride: type.blockSize)
        #expect(mismatch.count == 0, "\(type.name): \(mismatch)")
    }

    @Test("quantization matches gguf-py byte for byte", arguments: GGMLVectors.gguf?.quantize ?? [])
    func quantizeMatchesGGUFPy(_ vector: GGMLVectors.Case) throws {
        try checkQuantization(vector, index: try #require(GGMLVectors.gguf))
    }

    @Test(
        "K-quant and IQ4_NL quantization matches ggml's C reference",
        arguments: GGMLVectors.ggmlC?.quantize ?? [])
    func quantizeMatchesGGMLC(_ vector: GGMLVectors.Case) throws {
        try checkQuantization(vector, index: try #require(GGMLVectors.ggmlC))
    }

    private func checkQuantization(_ vector: GGMLVectors.Case, index: GGMLVectors.Index) throws {
        let type = try #require(vector.ggmlType)
        let input = try GGMLVectors.floats(vector.input, in: index)
        let expected = try GGMLVectors.bytes(vector.expected, in: index)
        try #require(input.count == vector.elements)
        var actual = [UInt8](repeating: 0xAA, count: expected.count)
        try input.withUnsafeBufferPointer { source in
            try actual.withUnsafeMutableBytes { output in
                try GGMLCodec.quantize(source, as: type, into: output)
            }
        }
        let mismatch = BlockMismatch(actual, expected, stride: type.typeSize)
        #expect(mismatch.count == 0, "\(type.name): \(mismatch)")
    }
}
