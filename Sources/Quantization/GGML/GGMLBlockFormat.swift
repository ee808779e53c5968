// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// One ggml block format: its geometry and a kernel that expands one block to `Float`.
///
/// Conformers are caseless enums holding static kernels; ``GGMLCodec`` runs them over whole buffers.
protocol GGMLBlockDecoding: SendableMetatype {
    /// The ggml type this format encodes.
    static var type: GGMLType { get }
    /// Elements per block (`QK*` in ggml-common.h).
    static var blockSize: Int { get }
    /// Bytes per block (`sizeof(block_*)` in ggml-common.h).
    static var typeSize: Int { get }
    /// Expands the block at `block` into `blockSize` floats at `values`.
    static func dequantize(block: UnsafeRawPointer, into values: UnsafeMutablePointer<Float>)
}

/// A ggml block format that Quail can also encode.
protocol GGMLBlockEncoding: GGMLBlockDecoding {
    /// True when the encoder's arithmetic is only defined for finite inputs (all block types).
    static var requiresFiniteInput: Bool { get }
    /// Encodes `blockSize` floats at `values` into one block at `block`.
    static func quantize(block values: UnsafePointer<Float>, into block: UnsafeMutableRawPointer)
}

extension GGMLBlockDecoding {
    /// True when the format's constants agree with ``GGMLType``'s geometry table (asserted before each run).
    static var matchesTypeTable: Bool { blockSize == type.blockSize && typeSize == type.typeSize }
}

extension GGMLBlockEncoding {
    static var requiresFiniteInput: Bool { true }
}
