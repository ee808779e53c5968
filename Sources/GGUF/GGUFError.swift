// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// A GGUF file that cannot be read or written, naming the file, the broken rule and where it was broken.
///
/// Offsets are absolute byte offsets in the file (for the writer: in the file being written).
public enum GGUFError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened, mapped, created, written or renamed.
    case fileAccess(FileAccessError)
    /// The first four bytes are not `GGUF`; `detected` names the kind of file it seems to be instead.
    case badMagic(path: String, magic: [UInt8], detected: GGUFMisidentifiedFormat?)
    /// The version is 0, 1 (GGUF v1, 32-bit counts) or newer than 3.
    case unsupportedVersion(path: String, version: UInt32)
    /// The version's low 16 bits are zero: the file was written with the other byte order.
    case byteOrderMismatch(path: String, version: UInt32)
    /// Reading `item` at `offset` needs `needed` bytes but only `available` remain.
    case truncated(path: String, item: GGUFItem, offset: Int, needed: UInt64, available: Int)
    /// A count or length read at `offset` is above the configured cap (see ``GGUFReadLimits``).
    case limitExceeded(
        path: String, item: GGUFItem, offset: Int, limit: GGUFLimit, value: UInt64, maximum: Int)
    /// A value type id (or array element type id) read at `offset` is not one of the 13 GGUF types.
    case unknownValueType(path: String, key: String, offset: Int, typeID: UInt32)
    /// An array whose element type is ARRAY (ggml rejects arrays of arrays).
    case nestedArray(path: String, key: String, offset: Int)
    /// A BOOL byte that is neither 0 nor 1.
    case invalidBool(path: String, key: String, offset: Int, byte: UInt8)
    /// A string (key, tensor name or value) that is not valid UTF-8.
    case invalidUTF8(path: String, item: GGUFItem, offset: Int)
    /// The key of entry `index` is empty.
    case emptyKey(path: String, index: Int, offset: Int)
    /// A key that appears twice.
    case duplicateKey(path: String, key: String, offset: Int)
    /// A tensor name that appears twice.
    case duplicateTensorName(path: String, name: String, offset: Int)
    /// A tensor name of 64 or more UTF-8 bytes (ggml `GGML_MAX_NAME` is 64 including the NUL).
    case tensorNameTooLong(path: String, name: String, offset: Int, byteCount: Int)
    /// A tensor name containing a NUL byte (ggml would see a shorter name).
    case nulInTensorName(path: String, name: String, offset: Int)
    /// A tensor with more than four dimensions.
    case tooManyDimensions(path: String, tensor: String, offset: Int, count: UInt32)
    /// A dimension above `Int64.max` (negative as ggml's signed `ne`).
    case negativeDimension(path: String, tensor: String, offset: Int, index: Int, value: Int64)
    /// The product of the dimensions overflows.
    case elementCountOverflow(path: String, tensor: String, offset: Int, dimensions: [Int])
    /// `ne[0]` is not a multiple of the type's block size.
    case rowNotMultipleOfBlock(
        path: String, tensor: String, offset: Int, rowLength: Int, type: GGMLType)
    /// The tensor's byte size (or its size padded to the alignment, or the running data size) overflows.
    case byteCountOverflow(path: String, tensor: String, offset: Int)
    /// `general.alignment` is present with a type other than UINT32.
    case invalidAlignmentType(path: String, type: GGUFValueType)
    /// `general.alignment` is zero or not a power of two.
    case invalidAlignment(path: String, value: UInt32)
    /// A tensor's data offset is not the one ggml requires (sum of the padded sizes of earlier tensors).
    case tensorOffsetMismatch(path: String, tensor: String, expected: Int, actual: UInt64)
    /// A tensor's data offset (after a tensor of unknown type) is not a multiple of the alignment.
    case misalignedTensorOffset(path: String, tensor: String, offset: UInt64, alignment: Int)
    /// A tensor's data offset (after a tensor of unknown type) is below the previous tensor's.
    case tensorOffsetOutOfOrder(path: String, tensor: String, offset: UInt64, previous: Int)
    /// A tensor's data ends beyond the end of the file (`end` is absolute; nil when it overflows).
    case tensorDataOutOfBounds(path: String, tensor: String, end: Int?, fileSize: Int)
    /// Bytes follow the padded end of the last tensor (or of the tensor infos when there are no tensors).
    case trailingBytes(path: String, expectedSize: Int, actualSize: Int)
    /// The tensor's type id is unknown to this build, so its bytes cannot be delimited.
    case unknownTensorType(path: String, tensor: String, typeID: UInt32)
    /// The tensor info does not describe a tensor of this file.
    case tensorNotFound(path: String, tensor: String)
    /// A writer payload wrote a different number of bytes than the tensor's size.
    case payloadSizeMismatch(path: String, tensor: String, expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .fileAccess(let error):
            return error.description
        case .badMagic(let path, let magic, let detected):
            let found = magic.map { String($0, radix: 16).leftPadded(to: 2) }.joined(separator: " ")
            if let detected {
                return "\(path): not a gguf file: it looks like \(detected.description)"
            }
            return "\(path): not a gguf file: magic bytes are [\(found)], expected 'GGUF'"
        case .unsupportedVersion(let path, let version):
            if version == 1 {
                return "\(path): gguf version 1 is not supported (only versions 2 and 3)"
            }
            return "\(path): unsupported gguf version \(version) (only versions 2 and 3)"
        case .byteOrderMismatch(let path, let version):
            return
                "\(path): gguf version field is \(version): the file was written with the other byte order"
        case .truncated(let path, let item, let offset, let needed, let available):
            if offset == 0, available == 0 { return "\(path): file is empty" }
            return "\(path): truncated: reading \(item) at offset \(offset) needs \(needed) bytes, "
                + "only \(available) remain"
        case .limitExceeded(let path, let item, let offset, let limit, let value, let maximum):
            return
                "\(path): \(limit) \(value) of \(item) at offset \(offset) exceeds the limit \(maximum)"
        case .unknownValueType(let path, let key, let offset, let typeID):
            return "\(path): key `\(key)` has unknown value type \(typeID) at offset \(offset)"
        case .nestedArray(let path, let key, let offset):
            return
                "\(path): key `\(key)` is an array of arrays (offset \(offset)), which ggml rejects"
        case .invalidBool(let path, let key, let offset, let byte):
            return
                "\(path): key `\(key)` has bool byte \(byte) at offset \(offset), expected 0 or 1"
        case .invalidUTF8(let path, let item, let offset):
            return "\(path): \(item) at offset \(offset) is not valid utf-8"
        case .emptyKey(let path, let index, let offset):
            return "\(path): key #\(index) at offset \(offset) is empty"
        case .duplicateKey(let path, let key, let offset):
            return "\(path): duplicate key `\(key)` at offset \(offset)"
        case .duplicateTensorName(let path, let name, let offset):
            return "\(path): duplicate tensor name `\(name)` at offset \(offset)"
        case .tensorNameTooLong(let path, let name, let offset, let byteCount):
            return
                "\(path): tensor name `\(name)` at offset \(offset) is \(byteCount) bytes, ggml allows at most 63"
        case .nulInTensorName(let path, let name, let offset):
            return "\(path): tensor name `\(name)` at offset \(offset) contains a nul byte"
        case .tooManyDimensions(let path, let tensor, let offset, let count):
            return
                "\(path): tensor `\(tensor)` has \(count) dimensions at offset \(offset), at most 4 allowed"
        case .negativeDimension(let path, let tensor, let offset, let index, let value):
            return
                "\(path): tensor `\(tensor)` dimension \(index) is \(value) (offset \(offset)), must be >= 0"
        case .elementCountOverflow(let path, let tensor, let offset, let dimensions):
            return
                "\(path): tensor `\(tensor)` (offset \(offset)) has too many elements: \(dimensions)"
        case .rowNotMultipleOfBlock(let path, let tensor, let offset, let rowLength, let type):
            return
                "\(path): tensor `\(tensor)` (offset \(offset)) of type \(type.name) has \(rowLength) elements "
                + "per row, not a multiple of the block size \(type.blockSize)"
        case .byteCountOverflow(let path, let tensor, let offset):
            return "\(path): size of tensor `\(tensor)` (offset \(offset)) overflows"
        case .invalidAlignmentType(let path, let type):
            return "\(path): general.alignment must be UINT32 but is \(type.name)"
        case .invalidAlignment(let path, let value):
            return "\(path): general.alignment \(value) is not a power of two"
        case .tensorOffsetMismatch(let path, let tensor, let expected, let actual):
            return "\(path): tensor `\(tensor)` has data offset \(actual), expected \(expected) "
                + "(tensor data must be packed in tensor-info order)"
        case .misalignedTensorOffset(let path, let tensor, let offset, let alignment):
            return
                "\(path): tensor `\(tensor)` data offset \(offset) is not a multiple of the alignment \(alignment)"
        case .tensorOffsetOutOfOrder(let path, let tensor, let offset, let previous):
            return
                "\(path): tensor `\(tensor)` data offset \(offset) is before the previous tensor's (\(previous))"
        case .tensorDataOutOfBounds(let path, let tensor, let end, let fileSize):
            let position =
                end.map { "ends at byte \($0)" } ?? "ends beyond any representable offset"
            return
                "\(path): truncated: data of tensor `\(tensor)` \(position) but the file has \(fileSize) bytes"
        case .trailingBytes(let path, let expectedSize, let actualSize):
            return
                "\(path): \(actualSize - expectedSize) unexpected bytes after the end of the data "
                + "(expected \(expectedSize) bytes, file has \(actualSize))"
        case .unknownTensorType(let path, let tensor, let typeID):
            return
                "\(path): tensor `\(tensor)` has ggml type id \(typeID), which this build does not know"
        case .tensorNotFound(let path, let tensor):
            return "\(path): no tensor `\(tensor)` with this description in the file"
        case .payloadSizeMismatch(let path, let tensor, let expected, let actual):
            return "\(path): wrote \(actual) bytes for tensor `\(tensor)`, expected \(expected)"
        }
    }
}

/// The part of a GGUF file being read when an error occurred.
public enum GGUFItem: Sendable, Equatable, CustomStringConvertible {
    /// The fixed header (magic, version, counts).
    case header
    /// The key of metadata entry `index` (zero-based).
    case key(index: Int)
    /// The type or value of the metadata entry `key`.
    case value(key: String)
    /// The name of tensor info `index` (zero-based).
    case tensorName(index: Int)
    /// The rest of the info of tensor `name` (dimensions, type, offset).
    case tensorInfo(name: String)
    /// The padding between the tensor infos and the data section.
    case dataSection

    public var description: String {
        switch self {
        case .header: "the header"
        case .key(let index): "key #\(index)"
        case .value(let key): "the value of key `\(key)`"
        case .tensorName(let index): "the name of tensor #\(index)"
        case .tensorInfo(let name): "the info of tensor `\(name)`"
        case .dataSection: "the padding before the data section"
        }
    }
}

/// A cap of ``GGUFReadLimits`` that a file exceeded.
public enum GGUFLimit: Sendable, Equatable, CustomStringConvertible {
    /// ``GGUFReadLimits/maxStringByteCount``.
    case stringByteCount
    /// ``GGUFReadLimits/maxArrayCount``.
    case arrayCount
    /// ``GGUFReadLimits/maxKeyValueCount``.
    case keyValueCount
    /// ``GGUFReadLimits/maxTensorCount``.
    case tensorCount
    /// ``GGUFReadLimits/maxAlignment``.
    case alignment

    public var description: String {
        switch self {
        case .stringByteCount: "string length"
        case .arrayCount: "array length"
        case .keyValueCount: "key/value count"
        case .tensorCount: "tensor count"
        case .alignment: "alignment"
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
