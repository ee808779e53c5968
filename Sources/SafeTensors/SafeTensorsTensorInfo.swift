// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// One tensor's header entry in a safetensors file, after validation.
public struct SafeTensorsTensorInfo: Sendable, Equatable {
    /// The tensor's name (its key in the header).
    public let name: String
    /// The element type.
    public let dtype: DType
    /// The shape, outermost dimension first; `[]` is a scalar.
    public let shape: [Int]
    /// Where the tensor's bytes lie, relative to the start of the data buffer (file offset 8 + header length).
    public let byteRange: Range<Int>

    /// The number of bytes the tensor occupies.
    public var byteCount: Int { byteRange.count }

    /// Creates a tensor description; callers are expected to have checked that the range fits shape and dtype.
    public init(name: String, dtype: DType, shape: [Int], byteRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
    }
}
