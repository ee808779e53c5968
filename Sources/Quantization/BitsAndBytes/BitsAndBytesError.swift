// SPDX-License-Identifier: Apache-2.0

/// A rule broken by input to the bitsandbytes codecs (NF4/FP4, double quantization, LLM.int8).
///
/// The codecs do no file I/O, so the cases name the offending value, field or size; callers that read
/// or write files add the tensor name when they report the error.
public enum BitsAndBytesError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The block size is not one of 32, 64, ..., 4096 (bitsandbytes `quantize_4bit` accepts only these).
    case invalidBlockSize(Int)
    /// `count` input values are NaN or infinite; the first is at flat index `firstIndex`.
    case nonFiniteValues(count: Int, firstIndex: Int)
    /// A dimension is negative or the element count overflows `Int`.
    case invalidShape([Int])
    /// The shape has no elements; bitsandbytes cannot quantize an empty tensor.
    case emptyTensor(shape: [Int])
    /// The shape's element count differs from the number of values supplied.
    case shapeMismatch(shape: [Int], valueCount: Int)
    /// A stored array (`field`: packed, absmax, nested_absmax, ...) has the wrong length for the shape.
    case lengthMismatch(field: String, expected: Int, actual: Int)
    /// The mean of the block absmax values (the double-quantization offset) overflowed Float.
    case nonFiniteOffset
    /// The double-quantization offset or a stored scale is NaN or infinite.
    case nonFiniteStatistic(field: String)
    /// `count` values overflow float16 (LLM.int8 rounds weights to float16 first); the first is at `firstIndex`.
    case float16Overflow(count: Int, firstIndex: Int)
    /// The quant-state `dtype` must be float32, float16 or bfloat16.
    case unsupportedDType(String)

    /// A short lowercase message naming the broken rule and the offending value.
    public var description: String {
        switch self {
        case .invalidBlockSize(let size):
            "bitsandbytes block size \(size) is not a power of two between 32 and 4096"
        case .nonFiniteValues(let count, let first):
            "\(count) value(s) are NaN or infinite (first at flat index \(first)); bitsandbytes cannot quantize them"
        case .invalidShape(let shape):
            "shape \(shape) has a negative dimension or too many elements"
        case .emptyTensor(let shape):
            "shape \(shape) has no elements; there is nothing to quantize"
        case .shapeMismatch(let shape, let count):
            "shape \(shape) does not hold the \(count) values supplied"
        case .lengthMismatch(let field, let expected, let actual):
            "bitsandbytes `\(field)` has \(actual) entries, expected \(expected) for this shape and block size"
        case .nonFiniteOffset:
            "the mean of the block absmax values overflows float32; double quantization is impossible"
        case .nonFiniteStatistic(let field):
            "bitsandbytes `\(field)` holds a NaN or infinite value"
        case .float16Overflow(let count, let first):
            "\(count) value(s) exceed the float16 range (first at flat index \(first)); LLM.int8 stores float16 weights"
        case .unsupportedDType(let name):
            "dtype \(name) cannot be a bitsandbytes quant-state dtype (float32, float16 or bfloat16)"
        }
    }
}
