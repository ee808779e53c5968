// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// Why a LoRA initialisation could not be solved; every case names the layer.
public enum LowRankInitError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The rank is not in `1...min(rows, columns)` of the weight.
    case invalidRank(layer: String, rank: Int, rows: Int, columns: Int)
    /// `matrix` ("W", "Q", "H" or "quantizer output") has the wrong shape.
    case shapeMismatch(layer: String, matrix: String, expected: [Int], actual: [Int])
    /// `matrix` holds a NaN or an infinity at `row`, `column`.
    case nonFiniteValue(layer: String, matrix: String, row: Int, column: Int)
    /// The Gram matrix has a negative diagonal entry, so it is not positive semidefinite.
    case negativeGramDiagonal(layer: String, index: Int, value: Double)
    /// A solver option is out of range (`name` is the option, `value` what was given).
    case invalidOption(layer: String, name: String, value: Double)
    /// The `loftq` method was asked for without a quantize-dequantize function.
    case missingQuantizer(layer: String)
    /// The caller's quantize-dequantize function threw.
    case quantizerFailed(layer: String, message: String)
    /// A LAPACK routine failed and no documented recovery applied.
    case linearAlgebra(layer: String, LinearAlgebraError)
    /// A runtime LoRA scale (α/r or α/√r) is not a positive finite number.
    case invalidScale(Double)

    public var description: String {
        switch self {
        case .invalidRank(let layer, let rank, let rows, let columns):
            "layer \(layer): rank \(rank) must be between 1 and min(\(rows), \(columns)) = \(min(rows, columns))"
        case .shapeMismatch(let layer, let matrix, let expected, let actual):
            "layer \(layer): \(matrix) has shape \(actual), expected \(expected)"
        case .nonFiniteValue(let layer, let matrix, let row, let column):
            "layer \(layer): \(matrix) holds a non-finite value at [\(row), \(column)]"
        case .negativeGramDiagonal(let layer, let index, let value):
            "layer \(layer): H[\(index), \(index)] = \(value) is negative; a Gram matrix is positive semidefinite"
        case .invalidOption(let layer, let name, let value):
            "layer \(layer): \(name) = \(value) is out of range"
        case .missingQuantizer(let layer):
            "layer \(layer): loftq needs a quantize-dequantize function"
        case .quantizerFailed(let layer, let message):
            "layer \(layer): quantization failed: \(message)"
        case .linearAlgebra(let layer, let error):
            "layer \(layer): \(error)"
        case .invalidScale(let scale):
            "LoRA scale \(scale) must be positive and finite (alpha > 0, rank ≥ 1)"
        }
    }
}
