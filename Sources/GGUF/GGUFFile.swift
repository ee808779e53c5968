// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore

/// A validated, memory-mapped GGUF v2 or v3 file.
///
/// Opening the file parses and checks the header, the metadata and every tensor info, and checks that
/// the tensor data is laid out exactly as ggml requires and lies inside the file (see `formats/gguf.md`).
/// Tensor bytes are not read until ``bytes(of:)`` is called; pages load on first touch.
///
/// Tensors whose ggml type id this build does not know are kept (their ``GGUFTensorInfo/type`` and
/// ``GGUFTensorInfo/byteCount`` are nil) so that the metadata stays readable; ``bytes(of:)`` throws for them.
///
/// Layout (all integers little-endian):
/// ```
/// "GGUF" | u32 version | u64 tensor_count | u64 kv_count
/// kv_count × (string key | u32 type | value)
/// tensor_count × (string name | u32 n_dims | n_dims × u64 ne | u32 ggml_type | u64 offset)
/// zero padding to the alignment | data: tensor i at dataOffset + offset_i, padded to the alignment
/// string = u64 length + UTF-8 bytes
/// ```
public final class GGUFFile: @unchecked Sendable {
    /// The file's location.
    public let url: URL
    /// The format version (2 or 3).
    public let version: UInt32
    /// The metadata in file order.
    public let metadata: GGUFMetadata
    /// The tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// The data alignment: `general.alignment`, or 32 when absent.
    public let alignment: Int
    /// The absolute file offset of the data section (the end of the tensor infos rounded up to the alignment).
    public let dataOffset: Int
    private let mapping: MappedFile
    private let indexByName: [String: Int]

    /// Opens, maps and validates the GGUF file at `url`.
    ///
    /// - Throws: ``GGUFError`` naming the file and the broken rule; ``GGUFError/fileAccess(_:)`` if the file
    ///   cannot be opened or mapped.
    public init(contentsOf url: URL, limits: GGUFReadLimits = .init()) throws(GGUFError) {
        do {
            mapping = try MappedFile(url: url)
        } catch {
            throw .fileAccess(error)
        }
        var parser = GGUFParser(bytes: mapping.bytes, path: url.path, limits: limits)
        let contents = try parser.parse()
        self.url = url
        version = contents.version
        metadata = contents.metadata
        tensors = contents.tensors
        alignment = contents.alignment
        dataOffset = contents.dataOffset
        indexByName = Dictionary(
            uniqueKeysWithValues: contents.tensors.enumerated().map { ($1.name, $0) })
    }

    /// The size of the file in bytes.
    public var fileSize: Int { mapping.bytes.count }

    /// The tensor named `name`, or nil.
    public subscript(name: String) -> GGUFTensorInfo? {
        indexByName[name].map { tensors[$0] }
    }

    /// The tensors whose type id this build does not know.
    public var unknownTypeTensors: [GGUFTensorInfo] { tensors.filter { $0.type == nil } }

    /// The raw bytes of `tensor` (``GGUFTensorInfo/byteCount`` bytes, no padding), valid while this object lives.
    ///
    /// Quantized tensors come back as their ggml blocks; nothing is converted.
    ///
    /// - Throws: ``GGUFError/unknownTensorType(path:tensor:typeID:)`` if the type is unknown;
    ///   ``GGUFError/tensorNotFound(path:tensor:)`` if `tensor` is not one of this file's ``tensors``.
    public func bytes(of tensor: GGUFTensorInfo) throws(GGUFError) -> UnsafeRawBufferPointer {
        guard let index = indexByName[tensor.name], tensors[index] == tensor else {
            throw .tensorNotFound(path: url.path, tensor: tensor.name)
        }
        guard let byteCount = tensor.byteCount else {
            throw .unknownTensorType(path: url.path, tensor: tensor.name, typeID: tensor.typeID)
        }
        // The parser checked that dataOffset + offset + byteCount lies inside the file.
        let start = dataOffset + tensor.offset
        return UnsafeRawBufferPointer(rebasing: mapping.bytes[start..<(start + byteCount)])
    }
}
