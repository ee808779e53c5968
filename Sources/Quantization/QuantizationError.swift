// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// A reason a ggml block codec refused its input.
public enum QuantizationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Quail has no codec for `type` in the requested direction.
    case unsupportedType(GGMLType)
    /// `elements` is not a whole number of `blockSize`-element blocks of `type`.
    case lengthNotMultipleOfBlock(elements: Int, blockSize: Int, type: GGMLType)
    /// A byte buffer holds `actual` bytes where the element count asks for `expected`.
    case bufferSizeMismatch(expected: Int, actual: Int)
    /// The input to a block quantizer holds a NaN or an infinity at element `index`.
    case nonFiniteValue(index: Int, type: GGMLType)

    /// A short lowercase message naming the ggml type and the broken rule.
    public var description: String {
        switch self {
        case .unsupportedType(let type):
            "ggml type \(type.name) is not supported by this codec"
        case .lengthNotMultipleOfBlock(let elements, let blockSize, let type):
            "\(elements) elements are not a whole number of \(type.name) blocks of \(blockSize)"
        case .bufferSizeMismatch(let expected, let actual):
            "buffer holds \(actual) bytes, expected \(expected)"
        case .nonFiniteValue(let index, let type):
            "cannot quantize to \(type.name): element \(index) is NaN or infinite"
        }
    }
}
