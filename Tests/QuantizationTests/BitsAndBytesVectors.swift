// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The reference vectors in `fixtures/bnb-vectors/vectors.json`, written by
/// `fixtures/scripts/generate_bnb_vectors.py` from the NumPy port of bitsandbytes (see the README there).
struct BitsAndBytesVectors: Decodable {
    struct Input: Decodable {
        let shape: [Int]
        let values: String
    }

    struct FourBitCase: Decodable {
        let name: String
        let input: String
        let quantType: String
        let blocksize: Int
        let nestedRounding: String?
        let packed: String
        let absmax: String?
        let absmaxExact: String?
        let absmaxCodes: String?
        let nestedAbsmax: String?
        let nestedOffset: String?
        let json: String
        let dtype: String
        let dequantized: String?

        enum CodingKeys: String, CodingKey {
            case name, input, packed, absmax, json, dtype, dequantized, blocksize
            case quantType = "quant_type"
            case nestedRounding = "nested_rounding"
            case absmaxExact = "absmax_exact"
            case absmaxCodes = "absmax_codes"
            case nestedAbsmax = "nested_absmax"
            case nestedOffset = "nested_offset"
        }
    }

    struct NestedCase: Decodable {
        let name: String
        let nestedRounding: String
        let absmax: String
        let codes: String
        let nestedAbsmax: String
        let offset: String

        enum CodingKeys: String, CodingKey {
            case name, absmax, codes, offset
            case nestedRounding = "nested_rounding"
            case nestedAbsmax = "nested_absmax"
        }
    }

    struct Int8Case: Decodable {
        let name: String
        let shape: [Int]
        let input: String
        let cb: String
        let scb: String
        let dequantized: String
    }

    let codes: [String: String]
    let inputs: [String: Input]
    let fourBit: [FourBitCase]
    let nested: [NestedCase]
    let int8: [Int8Case]
    let pythonRepr: [[String]]

    enum CodingKeys: String, CodingKey {
        case codes, inputs, nested, int8
        case fourBit = "four_bit"
        case pythonRepr = "python_repr"
    }

    /// Loads the committed vectors (located relative to this source file).
    static func load() throws -> BitsAndBytesVectors {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/bnb-vectors/vectors.json")
        return try JSONDecoder().decode(BitsAndBytesVectors.self, from: Data(contentsOf: url))
    }

    /// Bytes of a base64 field.
    static func bytes(_ base64: String) -> [UInt8] {
        Array(Data(base64Encoded: base64) ?? Data())
    }

    /// Little-endian float32 values of a base64 field.
    static func floats(_ base64: String) -> [Float] {
        let raw = bytes(base64)
        return stride(from: 0, to: raw.count, by: 4).map { i in
            Float(bitPattern: UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24)
        }
    }

    /// A float32 from its 8-digit hex bit pattern.
    static func float(hex: String) -> Float? {
        UInt32(hex, radix: 16).map(Float.init(bitPattern:))
    }
}

/// Bit patterns, so that comparisons distinguish -0.0 from 0.0 and report exact differences.
func bitPatterns(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }
