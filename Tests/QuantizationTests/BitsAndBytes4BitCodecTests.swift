// SPDX-License-Identifier: Apache-2.0
import Testing
import TensorCore

@testable import Quantization

@Suite("bitsandbytes NF4/FP4 codec")
struct BitsAndBytes4BitCodecTests {
    let vectors: BitsAndBytesVectors

    init() throws { vectors = try BitsAndBytesVectors.load() }

    @Test("codebooks and dynamic map equal the reference tables bit for bit")
    func tablesMatchReference() throws {
        #expect(bitPatterns(BitsAndBytes4BitType.nf4.codebook) == bitPatterns(BitsAndBytesVectors.floats(try #require(vectors.codes["nf4"]))))
        #expect(bitPatterns(BitsAndBytes4BitType.fp4.codebook) == bitPatterns(BitsAndBytesVectors.floats(try #require(vectors.codes["fp4"]))))
        // The Swift table was read from real bitsandbytes output; the reference emulates torch.linspace.
        #expect(bitPatterns(BitsAndBytesDynamicMap.values) == bitPatterns(BitsAndBytesVectors.floats(try #require(vectors.codes["dynamic"]))))
        #expect(BitsAndBytesDynamicMap.values[127] == 0 && BitsAndBytesDynamicMap.values[255] == 1)
        #expect(BitsAndBytes4BitType.fp4.codebook[8].bitPattern == 0)
    }

    @Test("quantization is bit-exact with the reference for every vector case")
    func quantizeMatchesVectors() throws {
        #expect(vectors.fourBit.count >= 30)
        for vector in vectors.fourBit {
            let tensor = try quantize(vector)
            #expect(tensor.packed == BitsAndBytesVectors.bytes(vector.packed), "\(vector.name): packed")
            switch tensor.absmax {
            case .plain(let absmax):
                #expect(vector.nestedRounding == nil, "\(vector.name)")
                #expect(bitPatterns(absmax) == bitPatterns(BitsAndBytesVectors.floats(vector.absmax ?? "")), "\(vector.name): absmax")
            case .nested(let nested):
                #expect(nested.codes == BitsAndBytesVectors.bytes(vector.absmaxCodes ?? ""), "\(vector.name): absmax codes")
                #expect(bitPatterns(nested.nestedAbsmax) == bitPatterns(BitsAndBytesVectors.floats(vector.nestedAbsmax ?? "")), "\(vector.name): nested_absmax")
                #expect(nested.offset.bitPattern == BitsAndBytesVectors.float(hex: vector.nestedOffset ?? "")?.bitPattern, "\(vector.name): offset")
            }
            let dtype = try #require(["float32": DType.f32, "float16": .f16, "bfloat16": .bf16][vector.dtype])
            #expect(try tensor.quantState(dtype: dtype).jsonRepresentation == vector.json, "\(vector.name): json")
        }
    }

    @Test("dequantization is bit-exact with the reference")
    func dequantizeMatchesVectors() throws {
        var checked = 0
        for vector in vectors.fourBit {
            guard let expected = vector.dequantized else { continue }
            let tensor = try quantize(vector)
            #expect(bitPatterns(BitsAndBytes4BitCodec.dequantize(tensor)) == bitPatterns(BitsAndBytesVectors.floats(expected)), "\(vector.name)")
            checked += 1
        }
        #expect(checked >= 19)
    }

    @Test("vectors cover ties, zero blocks, odd lengths, every rounding rule and several block sizes")
    func vectorsCoverEdgeCases() {
        let names = vectors.fourBit.map(\.name)
        for required in ["ties_nf4", "ties_fp4", "zero_blocks", "odd_3x7", "odd_101", "subnormal", "cpu-lut", "nearest"] {
            #expect(names.contains { $0.contains(required) }, "\(required)")
        }
        #expect(Set(vectors.fourBit.map(\.blocksize)).isSuperset(of: [32, 64, 128, 256, 512, 1024, 2048, 4096]))
    }

    @Test("a value exactly on an NF4 midpoint takes the lower code, one ulp above takes the upper")
    func midpointTiesGoDown() throws {
        let codebook = BitsAndBytes4BitType.nf4.codebook
        for k in 0..<15 {
            let midpoint = (codebook[k] + codebook[k + 1]) / 2
            let values: [Float] = [1, midpoint, midpoint.nextUp, midpoint.nextDown]
            let tensor = try values.withUnsafeBufferPointer {
                try BitsAndBytes4BitCodec.quantize($0, shape: [4], as: .nf4, blockSize: 32)
            }
            #expect(tensor.packed == [0xF0 | UInt8(k), UInt8(k + 1) << 4 | UInt8(k)], "midpoint \(k)")
        }
    }

    @Test("odd element counts pad the low nibble of the last byte with the code of zero")
    func oddCountPadding() throws {
        for (type, zeroCode) in [(BitsAndBytes4BitType.nf4, UInt8(7)), (.fp4, 0)] {
            let tensor = try [Float(1), -1, 0].withUnsafeBufferPointer {
                try BitsAndBytes4BitCodec.quantize($0, shape: [3], as: type, blockSize: 64)
            }
            #expect(tensor.packed.count == 2)
            #expect(tensor.packed[1] & 0x0F == zeroCode, "\(type)")
            #expect(BitsAndBytes4BitCodec.dequantize(tensor) == [1, -1, 0])
        }
    }

    @Test("an all-zero full block stores absmax 0 and code 7; a zero partial block stores 1e-38")
    func zeroBlocks() throws {
        let tensor = try [Float](repeating: 0, count: 64 + 6).withUnsafeBufferPointer {
            try BitsAndBytes4BitCodec.quantize($0, shape: [70], as: .nf4)
        }
        #expect(tensor.packed.allSatisfy { $0 == 0x77 })
        #expect(tensor.absmax == .plain([0, Float(1e-38)]))
        #expect(BitsAndBytes4BitCodec.dequantize(tensor).allSatisfy { $0 == 0 })
    }

    @Test("round trip stays within half the widest code gap times the block absmax", arguments: BitsAndBytes4BitType.allCases)
    func roundTripErrorBound(type: BitsAndBytes4BitType) throws {
        var rng = SplitMix64(seed: 7)
        let values = (0..<3000).map { _ in Float(rng.nextGaussian()) * 0.03 }
        let sorted = type.codebook.sorted()
        let widestGap = zip(sorted.dropFirst(), sorted).map { $0 - $1 }.max() ?? 0
        for doubleQuant in [false, true] {
            for blockSize in [32, 64, 256] {
                let tensor = try values.withUnsafeBufferPointer {
                    try BitsAndBytes4BitCodec.quantize($0, shape: [30, 100], as: type, blockSize: blockSize, doubleQuantization: doubleQuant)
                }
                let restored = BitsAndBytes4BitCodec.dequantize(tensor)
                for block in 0..<(values.count + blockSize - 1) / blockSize {
                    let range = block * blockSize..<min(values.count, (block + 1) * blockSize)
                    let absmax = values[range].map(abs).max() ?? 0
                    // double quantization perturbs the scale by at most ~1% of the largest absmax here
                    let bound = widestGap / 2 * absmax * 1.0001 + (doubleQuant ? 0.01 * absmax + 2e-4 : 0)
                    let worst = range.map { abs(values[$0] - restored[$0]) }.max() ?? 0
                    #expect(worst <= bound, "\(type) bs \(blockSize) dq \(doubleQuant) block \(block)")
                }
            }
        }
    }

    @Test("double quantization of a long absmax vector is bit-exact for both rounding rules")
    func nestedMatchesVectors() throws {
        #expect(vectors.nested.count == 2)
        var codesByRule: [BitsAndBytesNestedRounding: [UInt8]] = [:]
        for vector in vectors.nested {
            let rounding = try #require(BitsAndBytesNestedRounding(rawValue: vector.nestedRounding))
            let nested = try BitsAndBytesNestedAbsmax(quantizing: BitsAndBytesVectors.floats(vector.absmax), rounding: rounding)
            #expect(nested.codes == BitsAndBytesVectors.bytes(vector.codes), "\(vector.name)")
            #expect(bitPatterns(nested.nestedAbsmax) == bitPatterns(BitsAndBytesVectors.floats(vector.nestedAbsmax)), "\(vector.name)")
            #expect(nested.offset.bitPattern == BitsAndBytesVectors.float(hex: vector.offset)?.bitPattern, "\(vector.name)")
            codesByRule[rounding] = nested.codes
        }
        // the vector is long enough for the two rules to disagree somewhere
        #expect(codesByRule[.cpuLookupTable] != codesByRule[.nearest])
    }

    @Test("nested rounding rules agree except near zero")
    func nestedRoundingRulesMostlyAgree() throws {
        var rng = SplitMix64(seed: 11)
        let absmax = (0..<5000).map { _ in Float(abs(rng.nextGaussian())) * 0.1 + 0.01 }
        let lut = try BitsAndBytesNestedAbsmax(quantizing: absmax, rounding: .cpuLookupTable)
        let nearest = try BitsAndBytesNestedAbsmax(quantizing: absmax, rounding: .nearest)
        #expect(lut.offset == nearest.offset && lut.nestedAbsmax == nearest.nestedAbsmax)
        let differing = zip(lut.codes, nearest.codes).filter { $0 != $1 }
        #expect(differing.count < 50)
        #expect(differing.allSatisfy { abs(Int($0) - Int($1)) == 1 })
    }

    @Test("block sizes other than powers of two from 32 to 4096 are rejected", arguments: [0, 16, 48, 100, 8192, -64])
    func invalidBlockSize(blockSize: Int) {
        #expect(throws: BitsAndBytesError.invalidBlockSize(blockSize)) {
            try [Float](repeating: 1, count: 64).withUnsafeBufferPointer {
                try BitsAndBytes4BitCodec.quantize($0, shape: [64], as: .nf4, blockSize: blockSize)
            }
        }
    }

    @Test("NaN and infinity are rejected with their count and first index")
    func nonFiniteInput() {
        var values = [Float](repeating: 0.5, count: 100)
        values[17] = .nan
        values[40] = .infinity
        values[99] = -.infinity
        #expect(throws: BitsAndBytesError.nonFiniteValues(count: 3, firstIndex: 17)) {
            try values.withUnsafeBufferPointer { try BitsAndBytes4BitCodec.quantize($0, shape: [10, 10], as: .fp4) }
        }
    }

    @Test("shape errors: mismatched count, empty and negative shapes")
    func shapeErrors() {
        let values = [Float](repeating: 1, count: 12)
        #expect(throws: BitsAndBytesError.shapeMismatch(shape: [5, 2], valueCount: 12)) {
            try values.withUnsafeBufferPointer { try BitsAndBytes4BitCodec.quantize($0, shape: [5, 2], as: .nf4) }
        }
        #expect(throws: BitsAndBytesError.emptyTensor(shape: [0, 4])) {
            try [Float]().withUnsafeBufferPointer { try BitsAndBytes4BitCodec.quantize($0, shape: [0, 4], as: .nf4) }
        }
        #expect(throws: BitsAndBytesError.invalidShape([-3, -4])) {
            try values.withUnsafeBufferPointer { try BitsAndBytes4BitCodec.quantize($0, shape: [-3, -4], as: .nf4) }
        }
    }

    @Test("double quantization of absmax values whose mean overflows throws nonFiniteOffset")
    func offsetOverflow() {
        let values: [Float] = (0..<128).map { $0 % 2 == 0 ? 3e38 : -3e38 }
        #expect(throws: BitsAndBytesError.nonFiniteOffset) {
            try values.withUnsafeBufferPointer {
                try BitsAndBytes4BitCodec.quantize($0, shape: [128], as: .nf4, blockSize: 32, doubleQuantization: true)
            }
        }
    }

    @Test("stored parts of the wrong length are rejected")
    func inconsistentStoredParts() throws {
        #expect(throws: BitsAndBytesError.lengthMismatch(field: "weight", expected: 50, actual: 49)) {
            try BitsAndBytes4BitTensor(type: .nf4, blockSize: 64, shape: [10, 10], packed: [UInt8](repeating: 0, count: 49), absmax: .plain([1, 1]))
        }
        #expect(throws: BitsAndBytesError.lengthMismatch(field: "absmax", expected: 2, actual: 1)) {
            try BitsAndBytes4BitTensor(type: .nf4, blockSize: 64, shape: [10, 10], packed: [UInt8](repeating: 0, count: 50), absmax: .plain([1]))
        }
        #expect(throws: BitsAndBytesError.lengthMismatch(field: "nested_absmax", expected: 2, actual: 1)) {
            try BitsAndBytesNestedAbsmax(codes: [UInt8](repeating: 0, count: 257), nestedAbsmax: [1], offset: 0)
        }
        #expect(throws: BitsAndBytesError.nonFiniteStatistic(field: "absmax")) {
            try BitsAndBytes4BitTensor(type: .nf4, blockSize: 64, shape: [10], packed: [UInt8](repeating: 0, count: 5), absmax: .plain([.nan]))
        }
    }

    @Test("the pairwise sum keeps small terms that a sequential float32 sum drops")
    func pairwiseSumOrder() {
        // 1 + 2^-24 * k: sequential float32 summation loses every small term, NumPy's pairwise sum does not.
        let values = [Float(1)] + [Float](repeating: Float.ulpOfOne / 2, count: 300)
        #expect(BitsAndBytesNestedAbsmax.pairwiseSum(values) != values.reduce(0, +))
        #expect(BitsAndBytesNestedAbsmax.pairwiseSum([1, 2, 3]) == 6)
    }

    private func quantize(_ vector: BitsAndBytesVectors.FourBitCase) throws -> BitsAndBytes4BitTensor {
        let input = try #require(vectors.inputs[vector.input])
        let type = try #require(BitsAndBytes4BitType(rawValue: vector.quantType))
        let rounding = vector.nestedRounding.flatMap(BitsAndBytesNestedRounding.init(rawValue:))
        return try BitsAndBytesVectors.floats(input.values).withUnsafeBufferPointer {
            try BitsAndBytes4BitCodec.quantize(
                $0, shape: input.shape, as: type, blockSize: vector.blocksize,
                doubleQuantization: rounding != nil, nestedRounding: rounding ?? .cpuLookupTable)
        }
    }
}
