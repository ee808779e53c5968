// SPDX-License-Identifier: Apache-2.0
import Testing
import TensorCore

@testable import Quantization

@Suite("bitsandbytes quant-state JSON and Python float repr")
struct BitsAndBytesQuantStateTests {
    @Test("repr matches Python for every reference double")
    func reprMatchesPython() throws {
        let cases = try BitsAndBytesVectors.load().pythonRepr
        #expect(cases.count > 300)
        for entry in cases {
            let value = Double(bitPattern: try #require(UInt64(entry[0], radix: 16)))
            #expect(PythonFloatRepresentation.repr(value) == entry[1], "bits \(entry[0])")
        }
    }

    @Test("repr switches to exponent notation at Python's thresholds")
    func reprThresholds() {
        #expect(PythonFloatRepresentation.repr(0.0001) == "0.0001")
        #expect(PythonFloatRepresentation.repr(0.00001) == "1e-05")
        #expect(PythonFloatRepresentation.repr(1e16) == "1e+16")
        #expect(PythonFloatRepresentation.repr(9007199254740992) == "9007199254740992.0")
        #expect(PythonFloatRepresentation.repr(-0.0) == "-0.0")
        #expect(PythonFloatRepresentation.repr(.infinity) == "inf")
    }

    @Test("JSON without double quantization has the four keys in bitsandbytes order")
    func plainJSON() throws {
        let state = try BitsAndBytesQuantState(type: .nf4, blockSize: 64, dtype: .bf16, shape: [576, 576], nestedOffset: nil)
        #expect(state.jsonRepresentation == #"{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [576, 576]}"#)
        #expect(state.keySuffix == "quant_state.bitsandbytes__nf4")
    }

    @Test("JSON with double quantization appends the nested keys and the offset repr")
    func nestedJSON() throws {
        let state = try BitsAndBytesQuantState(
            type: .fp4, blockSize: 128, dtype: .f32, shape: [64, 64], nestedOffset: Float(bitPattern: 0x3E5A_1CB2))
        #expect(state.jsonRepresentation == #"{"quant_type": "fp4", "blocksize": 128, "dtype": "float32", "shape": [64, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.21300008893013}"#)
    }

    @Test("only float32, float16 and bfloat16 are quant-state dtypes; the offset must be finite")
    func rejectsBadStates() {
        #expect(throws: BitsAndBytesError.unsupportedDType("I8")) {
            try BitsAndBytesQuantState(type: .nf4, blockSize: 64, dtype: .i8, shape: [2], nestedOffset: nil)
        }
        #expect(throws: BitsAndBytesError.nonFiniteStatistic(field: "nested_offset")) {
            try BitsAndBytesQuantState(type: .nf4, blockSize: 64, dtype: .f16, shape: [2], nestedOffset: .nan)
        }
    }
}
