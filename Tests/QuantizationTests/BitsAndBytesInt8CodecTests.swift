// SPDX-License-Identifier: Apache-2.0
import Testing
import TensorCore

@testable import Quantization

@Suite("bitsandbytes LLM.int8 codec")
struct BitsAndBytesInt8CodecTests {
    @Test("CB, SCB and the dequantized weight are bit-exact with the reference")
    func matchesVectors() throws {
        let vectors = try BitsAndBytesVectors.load()
        #expect(vectors.int8.count == 2)
        for vector in vectors.int8 {
            let tensor = try BitsAndBytesVectors.floats(vector.input).withUnsafeBufferPointer {
                try BitsAndBytesInt8Codec.quantize($0, rows: vector.shape[0], columns: vector.shape[1])
            }
            #expect(tensor.codes.map { UInt8(bitPattern: $0) } == BitsAndBytesVectors.bytes(vector.cb), "\(vector.name): CB")
            #expect(bitPatterns(tensor.rowScales) == bitPatterns(BitsAndBytesVectors.floats(vector.scb)), "\(vector.name): SCB")
            #expect(bitPatterns(BitsAndBytesInt8Codec.dequantize(tensor)) == bitPatterns(BitsAndBytesVectors.floats(vector.dequantized)), "\(vector.name): dequant")
        }
    }

    @Test("exact .5 products round half to even, like torch.round")
    func halfToEven() throws {
        let values: [Float] = [127, 0.5, 1.5, 2.5, -0.5, -2.5]
        let tensor = try values.withUnsafeBufferPointer { try BitsAndBytesInt8Codec.quantize($0, rows: 1, columns: 6) }
        #expect(tensor.codes == [127, 0, 2, 2, 0, -2])
        #expect(tensor.rowScales == [127])
    }

    @Test("round trip error is at most half a step of rowmax / 127 plus float16 rounding")
    func roundTripBound() throws {
        var rng = SplitMix64(seed: 3)
        let values = (0..<(12 * 40)).map { _ in Float(rng.nextGaussian()) }
        let tensor = try values.withUnsafeBufferPointer { try BitsAndBytesInt8Codec.quantize($0, rows: 12, columns: 40) }
        let restored = BitsAndBytesInt8Codec.dequantize(tensor)
        for row in 0..<12 {
            let bound = tensor.rowScales[row] / 127 * 0.5001 + tensor.rowScales[row] * 1e-3
            for i in row * 40..<(row + 1) * 40 { #expect(abs(values[i] - restored[i]) <= bound) }
        }
    }

    @Test("a zero row quantizes to zero codes and zero scale")
    func zeroRow() throws {
        let tensor = try [Float](repeating: 0, count: 8).withUnsafeBufferPointer {
            try BitsAndBytesInt8Codec.quantize($0, rows: 2, columns: 4)
        }
        #expect(tensor.codes == [Int8](repeating: 0, count: 8) && tensor.rowScales == [0, 0])
        #expect(BitsAndBytesInt8Codec.dequantize(tensor) == [Float](repeating: 0, count: 8))
    }

    @Test("non-finite input, float16 overflow and bad shapes are rejected")
    func errors() {
        #expect(throws: BitsAndBytesError.nonFiniteValues(count: 1, firstIndex: 2)) {
            try [Float(1), 2, .nan, 4].withUnsafeBufferPointer { try BitsAndBytesInt8Codec.quantize($0, rows: 2, columns: 2) }
        }
        #expect(throws: BitsAndBytesError.float16Overflow(count: 2, firstIndex: 1)) {
            try [Float(1), 70000, 3, -1e6].withUnsafeBufferPointer { try BitsAndBytesInt8Codec.quantize($0, rows: 2, columns: 2) }
        }
        #expect(throws: BitsAndBytesError.shapeMismatch(shape: [3, 2], valueCount: 4)) {
            try [Float](repeating: 1, count: 4).withUnsafeBufferPointer { try BitsAndBytesInt8Codec.quantize($0, rows: 3, columns: 2) }
        }
        #expect(throws: BitsAndBytesError.lengthMismatch(field: "SCB", expected: 2, actual: 1)) {
            try BitsAndBytesInt8Tensor(rows: 2, columns: 2, codes: [1, 2, 3, 4], rowScales: [1])
        }
    }
}
