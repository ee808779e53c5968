// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// The description of one tensor in a GGUF file: name, ggml dimensions, type and data offset.
///
/// ``dimensions`` is in ggml `ne` order: `ne[0]` varies fastest and is the dimension the quantization
/// blocks run along. The PyTorch / numpy shape is ``shape`` (`dimensions.reversed()`), so an `nn.Linear`
/// weight of shape `[out, in]` has `dimensions == [in, out]`.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor name (at most 63 UTF-8 bytes).
    public let name: String
    /// The dimensions in ggml `ne` order (fastest first); zero to four entries.
    public let dimensions: [Int]
    /// The ggml type id as stored in the file.
    public let typeID: UInt32
    /// The offset of the tensor's first byte, relative to the start of the data section.
    public let offset: Int
    /// The tensor's size in bytes (without padding), or nil when the type is unknown to this build.
    public let byteCount: Int?

    /// Describes a tensor; ``byteCount`` is computed from `dimensions` and the type.
    ///
    /// ``byteCount`` is nil when `typeID` is not a known ``GGMLType``, or when the dimensions are not a
    /// whole number of blocks along `ne[0]` or the size overflows (the reader rejects such tensors before
    /// creating their info).
    public init(name: String, dimensions: [Int], typeID: UInt32, offset: Int) {
        self.name = name
        self.dimensions = dimensions
        self.typeID = typeID
        self.offset = offset
        byteCount = GGMLType(rawValue: typeID).flatMap {
            GGUFLayout.byteCount(dimensions: dimensions, type: $0)
        }
    }

    /// The ggml type, or nil for ids this build does not know.
    public var type: GGMLType? { GGMLType(rawValue: typeID) }

    /// The PyTorch / numpy shape (outermost dimension first): `dimensions.reversed()`.
    public var shape: [Int] { dimensions.reversed() }

    /// The number of elements (1 for a tensor with no dimensions), or nil on overflow.
    public var elementCount: Int? { Shape.elementCount(dimensions) }
}
