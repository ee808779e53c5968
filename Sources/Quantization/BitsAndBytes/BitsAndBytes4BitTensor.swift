// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// The per-block scales of a 4-bit tensor: plain float32 or double-quantized.
public enum BitsAndBytesAbsmax: Sendable, Equatable {
    /// One float32 absmax per block (`weight.absmax`, F32[n_blocks]).
    case plain([Float])
    /// Double-quantized absmax (`weight.absmax` becomes U8[n_blocks]).
    case nested(BitsAndBytesNestedAbsmax)

    /// The number of 4-bit blocks these scales cover.
    public var blockCount: Int {
        switch self {
        case .plain(let values): values.count
        case .nested(let nested): nested.codes.count
        }
    }

    /// The float32 absmax of every block (recovered from the nested codes when double-quantized).
    public func dequantized() -> [Float] {
        switch self {
        case .plain(let values): values
        case .nested(let nested): nested.dequantized()
        }
    }
}

/// A tensor in bitsandbytes 4-bit storage (NF4 or FP4), exactly as `Params4bit` serializes it.
///
/// Layout: the tensor is flattened row-major and cut into runs of ``blockSize`` values (the last may be
/// partial). ``packed`` holds two 4-bit codes per byte, byte k = `code[2k] << 4 | code[2k + 1]` (the even
/// element in the high nibble); an odd element count is padded with the code of 0.0. It is stored as
/// `weight` U8[(n + 1) / 2, 1]. Element i dequantizes to `quantMap[code_i] * absmax[i / blockSize]`.
public struct BitsAndBytes4BitTensor: Sendable, Equatable {
    /// NF4 or FP4.
    public let type: BitsAndBytes4BitType
    /// Values per absmax block (32 ... 4096, a power of two).
    public let blockSize: Int
    /// The original shape (row-major, outermost first), as written to the quant-state JSON.
    public let shape: [Int]
    /// Packed codes, `(elementCount + 1) / 2` bytes.
    public let packed: [UInt8]
    /// Per-block scales, `ceil(elementCount / blockSize)` of them.
    public let absmax: BitsAndBytesAbsmax

    /// Wraps stored parts after checking that they are consistent.
    ///
    /// - Throws: ``BitsAndBytesError/invalidBlockSize(_:)``, ``BitsAndBytesError/invalidShape(_:)``,
    ///   ``BitsAndBytesError/emptyTensor(shape:)``, ``BitsAndBytesError/lengthMismatch(field:expected:actual:)``
    ///   for a wrong `packed` or `absmax` length, ``BitsAndBytesError/nonFiniteStatistic(field:)`` for a NaN
    ///   or infinite plain absmax.
    public init(
        type: BitsAndBytes4BitType, blockSize: Int, shape: [Int], packed: [UInt8], absmax: BitsAndBytesAbsmax
    ) throws(BitsAndBytesError) {
        let count = try Self.validatedElementCount(shape: shape, blockSize: blockSize)
        guard packed.count == (count + 1) / 2 else {
            throw .lengthMismatch(field: "weight", expected: (count + 1) / 2, actual: packed.count)
        }
        let blocks = (count + blockSize - 1) / blockSize
        guard absmax.blockCount == blocks else {
            throw .lengthMismatch(field: "absmax", expected: blocks, actual: absmax.blockCount)
        }
        if case .plain(let values) = absmax, !values.allSatisfy(\.isFinite) {
            throw .nonFiniteStatistic(field: "absmax")
        }
        self.type = type
        self.blockSize = blockSize
        self.shape = shape
        self.packed = packed
        self.absmax = absmax
    }

    /// The number of elements of ``shape``.
    public var elementCount: Int { shape.reduce(1, *) }

    /// The code table written as `weight.quant_map` (float32[16]).
    public var quantMap: [Float] { type.codebook }

    /// True when the absmax values are double-quantized.
    public var isDoubleQuantized: Bool {
        if case .nested = absmax { true } else { false }
    }

    /// The quant-state (JSON) record for this tensor, naming `dtype` as the original weight dtype.
    ///
    /// - Throws: ``BitsAndBytesError/unsupportedDType(_:)`` unless `dtype` is F32, F16 or BF16.
    public func quantState(dtype: DType) throws(BitsAndBytesError) -> BitsAndBytesQuantState {
        var offset: Float?
        if case .nested(let nested) = absmax { offset = nested.offset }
        return try BitsAndBytesQuantState(
            type: type, blockSize: blockSize, dtype: dtype, shape: shape, nestedOffset: offset)
    }

    /// The element count of `shape` after checking it and `blockSize`.
    static func validatedElementCount(shape: [Int], blockSize: Int) throws(BitsAndBytesError) -> Int {
        guard BitsAndBytes4BitCodec.allowedBlockSizes.contains(blockSize) else {
            throw .invalidBlockSize(blockSize)
        }
        guard let count = Shape.elementCount(shape) else { throw .invalidShape(shape) }
        guard count > 0 else { throw .emptyTensor(shape: shape) }
        return count
    }
}
