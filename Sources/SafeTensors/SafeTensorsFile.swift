// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore

/// A validated, memory-mapped safetensors file.
///
/// Opening checks the whole header (see `formats/safetensors.md` for every rule); tensor bytes are not read
/// until ``bytes(of:)`` views are touched, so opening a multi-gigabyte file is cheap.
public final class SafeTensorsFile: @unchecked Sendable {
    /// The file's location.
    public let url: URL
    /// The `__metadata__` object; nil when absent or JSON null.
    public let metadata: [String: String]?
    /// Every tensor, in data-offset order.
    public let tensors: [SafeTensorsTensorInfo]
    /// The header length N (the header occupies file bytes 8..<8+N).
    public let headerByteCount: Int

    private let mapping: MappedFile
    private let data: UnsafeRawBufferPointer
    private let indexByName: [String: Int]

    /// Maps and validates the safetensors file at `url`.
    ///
    /// - Parameter maxHeaderByteCount: the largest accepted header length (the reference's cap is 100,000,000).
    /// - Throws: ``SafeTensorsError`` naming the file and the rule it breaks.
    public init(contentsOf url: URL, maxHeaderByteCount: Int = 100_000_000) throws(SafeTensorsError) {
        precondition(maxHeaderByteCount >= 0, "maxHeaderByteCount must not be negative")
        let path = url.path
        do {
            mapping = try MappedFile(url: url)
        } catch {
            throw .fileAccess(error)
        }
        let bytes = mapping.bytes
        func rejected(_ error: SafeTensorsError) -> SafeTensorsError {
            ForeignFormat.detect(in: bytes).map { .foreignFormat(file: path, format: $0) } ?? error
        }
        guard bytes.count >= 8 else { throw rejected(.fileTooSmall(file: path, byteCount: bytes.count)) }
        let length = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard length <= UInt64(maxHeaderByteCount) else {
            throw rejected(.headerTooLarge(file: path, headerByteCount: length, limit: maxHeaderByteCount))
        }
        guard length <= UInt64(bytes.count - 8) else {
            throw rejected(.headerBeyondFile(file: path, headerByteCount: length, fileByteCount: bytes.count))
        }
        let headerEnd = 8 + Int(length)
        let header = try SafeTensorsHeader.decode(
            UnsafeRawBufferPointer(rebasing: bytes[8..<headerEnd]), file: path,
            dataByteCount: bytes.count - headerEnd)
        self.url = url
        metadata = header.metadata
        tensors = header.tensors
        headerByteCount = Int(length)
        data = UnsafeRawBufferPointer(rebasing: bytes[headerEnd...])
        indexByName = Dictionary(uniqueKeysWithValues: header.tensors.enumerated().map { ($1.name, $0) })
    }

    /// The tensor called `name`, if the file has one.
    public subscript(name: String) -> SafeTensorsTensorInfo? {
        indexByName[name].map { tensors[$0] }
    }

    /// A view of `tensor`'s bytes inside the mapping, valid while this object lives.
    ///
    /// `tensor` must come from this file's ``tensors``.
    public func bytes(of tensor: SafeTensorsTensorInfo) -> UnsafeRawBufferPointer {
        precondition(tensor.byteRange.upperBound <= data.count, "tensor \(tensor.name) is not from \(url.path)")
        return UnsafeRawBufferPointer(rebasing: data[tensor.byteRange])
    }
}
