// SPDX-License-Identifier: Apache-2.0
import Foundation
import Quantization
import QuailKit
import TensorCore
import Testing

@Suite("quantization round trip")
struct QuantizeRoundTripTests {
    private func gaussian(_ count: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(random.nextGaussian()) }
    }

    @Test("chunked parallel NF4/FP4 equals one codec call, with and without double quantization")
    func parallelEqualsSerial() throws {
        let values = gaussian(200_001, seed: 3)
        for (type, double) in [(BitsAndBytes4BitType.nf4, true), (.nf4, false), (.fp4, true)] {
            let target = QuantizationTarget.bitsAndBytes4Bit(type, blockSize: 64, doubleQuantization: double)
            let parallel = try values.withUnsafeBufferPointer {
                try QuantizedTensor(quantizing: $0, shape: [200_001], as: target)
            }
            let serial = try values.withUnsafeBufferPointer {
                try BitsAndBytes4BitCodec.quantize($0, shape: [200_001], as: type, doubleQuantization: double)
            }
            guard case .bitsAndBytes4Bit(let tensor) = parallel else {
                Issue.record("not a 4-bit tensor")
                continue
            }
            #expect(tensor == serial, "\(type) double=\(double)")
        }
    }

    @Test("non-finite values are reported by total count and first index across chunks")
    func nonFiniteAcrossChunks() throws {
        var values = gaussian(200_000, seed: 5)
        values[199_999] = .infinity
        values[100_000] = .nan
        do {
            _ = try values.withUnsafeBufferPointer {
                try QuantizedTensor(
                    quantizing: $0, shape: [200, 1000], as: .bitsAndBytes4Bit(.nf4, blockSize: 64, doubleQuantization: true),
                    path: "m", tensor: "w")
            }
            Issue.record("expected an error")
        } catch CheckpointError.cannotQuantize(let path, let tensor, let reason) {
            #expect(path == "m" && tensor == "w")
            #expect(reason == BitsAndBytesError.nonFiniteValues(count: 2, firstIndex: 100_000).description)
        }
    }

    @Test("round trip equals the codecs' quantize then dequantize", arguments: ["q4_0", "q4_k", "iq4_nl", "q8_0", "nf4", "fp4", "int8"])
    func roundTrip(type: String) throws {
        let shape = [8, 512]
        let values = gaussian(shape.reduce(1, *), seed: 11)
        let target = try QuantizationTarget(name: type, path: "test")
        let q = try QuantizationRoundTrip.apply(target, to: values, shape: shape)
        var expected = [Float](repeating: 0, count: values.count)
        switch target {
        case .ggml(let ggml):
            var bytes = [UInt8](repeating: 0, count: try #require(ggml.rowByteCount(elements: values.count)))
            try values.withUnsafeBufferPointer { input in
                try bytes.withUnsafeMutableBytes { try GGMLCodec.quantize(input, as: ggml, into: $0) }
            }
            try bytes.withUnsafeBytes { input in
                try expected.withUnsafeMutableBufferPointer { try GGMLCodec.dequantize(input, as: ggml, into: $0) }
            }
        case .bitsAndBytes4Bit(let kind, let blockSize, let double):
            let tensor = try values.withUnsafeBufferPointer {
                try BitsAndBytes4BitCodec.quantize($0, shape: shape, as: kind, blockSize: blockSize, doubleQuantization: double)
            }
            expected = BitsAndBytes4BitCodec.dequantize(tensor)
        case .bitsAndBytesInt8:
            let tensor = try values.withUnsafeBufferPointer { try BitsAndBytesInt8Codec.quantize($0, rows: 8, columns: 512) }
            expected = BitsAndBytesInt8Codec.dequantize(tensor)
        }
        #expect(q == expected)
        #expect(q != values, "quantization changes the values")
    }

    @Test("rows that are not whole ggml blocks, and int8 on a 1-D tensor, are errors naming the tensor")
    func shapeErrors() {
        #expect(throws: CheckpointError.self) {
            try QuantizationRoundTrip.apply(.ggml(.q4_K), to: [Float](repeating: 1, count: 512), shape: [4, 128], tensor: "w")
        }
        #expect(throws: CheckpointError.cannotQuantize(path: "<memory>", tensor: "v", reason: "LLM.int8 quantizes 2-D weights only, not shape [64]")) {
            try QuantizationRoundTrip.apply(.bitsAndBytesInt8, to: [Float](repeating: 1, count: 64), shape: [64], tensor: "v")
        }
    }

    @Test("QUAIL_THREADS-bounded work covers every item exactly once")
    func parallelWorkCoversItems() {
        let counter = Counter(size: 1000)
        ParallelWork.forEach(1000) { counter.increment($0) }
        #expect(counter.values.allSatisfy { $0 == 1 } && ParallelWork.workerLimit >= 1)
    }
}

/// Per-index counters that concurrent workers increment at distinct indices.
private final class Counter: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<Int>
    init(size: Int) { storage = .allocate(capacity: size); storage.initialize(repeating: 0) }
    deinit { storage.deallocate() }
    var values: [Int] { Array(storage) }
    func increment(_ index: Int) { storage[index] += 1 }
}
