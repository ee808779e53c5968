// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// Everything that can go wrong reading or writing safetensors files and sharded checkpoints.
///
/// Every case names the file it is about; tensor-level cases also name the tensor.
public enum SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call on a file failed (open, mmap, write, rename, …).
    case fileAccess(FileAccessError)
    /// The file is not safetensors at all but something recognisable (a Git LFS pointer, an HTML page, …).
    case foreignFormat(file: String, format: ForeignFormat)
    /// The file is shorter than the 8-byte header-length prefix.
    case fileTooSmall(file: String, byteCount: Int)
    /// The header length prefix exceeds the configured cap.
    case headerTooLarge(file: String, headerByteCount: UInt64, limit: Int)
    /// The header length prefix points past the end of the file.
    case headerBeyondFile(file: String, headerByteCount: UInt64, fileByteCount: Int)
    /// The header is not valid UTF-8; `offset` is the file offset of the first bad byte.
    case headerNotUTF8(file: String, offset: Int)
    /// The header (or index) is not strict JSON; `offset` is the file offset where parsing stopped.
    case invalidJSON(file: String, offset: Int, reason: String)
    /// A JSON object has the same key twice; `path` is the JSON pointer of that object ("" is the top level).
    case duplicateKey(file: String, key: String, path: String)
    /// The header's top-level JSON value is not an object.
    case headerNotObject(file: String)
    /// `__metadata__` is neither null nor an object.
    case metadataNotObject(file: String)
    /// A `__metadata__` value is not a string.
    case metadataValueNotString(file: String, key: String)
    /// A tensor's header entry is not a JSON object.
    case tensorEntryNotObject(file: String, tensor: String)
    /// A tensor's header entry lacks `dtype`, `shape` or `data_offsets`.
    case missingField(file: String, tensor: String, field: String)
    /// A tensor's header field has the wrong JSON type or an out-of-range number.
    case invalidField(file: String, tensor: String, field: String, reason: String)
    /// A dtype string that safetensors does not define.
    case unknownDType(file: String, tensor: String, dtype: String)
    /// A dtype safetensors defines but Quail does not support (sub-byte floats, complex, FNUZ and E8M0 floats).
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// A shape with a negative dimension or whose byte count overflows.
    case invalidShape(file: String, tensor: String, shape: [Int])
    /// `data_offsets` has END < BEGIN.
    case reversedOffsets(file: String, tensor: String, begin: Int, end: Int)
    /// END − BEGIN differs from the element count times the dtype size.
    case byteCountMismatch(file: String, tensor: String, expected: Int, actual: Int)
    /// Two tensors' byte ranges overlap (after sorting by offset, `tensor` starts inside `previous`).
    case overlappingTensors(file: String, tensor: String, previous: String)
    /// Bytes `gapStart..<gapEnd` of the data buffer belong to no tensor.
    case gapBeforeTensor(file: String, tensor: String, gapStart: Int, gapEnd: Int)
    /// A tensor ends past the end of the data buffer (usually a truncated file).
    case tensorBeyondFile(file: String, tensor: String, end: Int, dataByteCount: Int)
    /// The data buffer has bytes after the last tensor.
    case trailingBytes(file: String, dataEnd: Int, dataByteCount: Int)
    /// A directory holds neither `<base>.safetensors` nor `<base>.safetensors.index.json`.
    case noCheckpoint(directory: String, safetensorsFiles: [String])
    /// A sharded checkpoint's index is structurally wrong (not an object, no `weight_map`, non-string entries).
    case invalidIndex(file: String, reason: String)
    /// An index maps a tensor to a shard path that is absolute, has a `..` component, or is not a `.safetensors` name.
    case shardPathNotAllowed(index: String, tensor: String, shard: String)
    /// An index and its shards disagree; every problem found is listed.
    case inconsistentCheckpoint(index: String, problems: [CheckpointProblem])
    /// A writer entry uses the reserved name `__metadata__`.
    case reservedTensorName(file: String)
    /// A writer got two entries with the same name.
    case duplicateEntry(file: String, tensor: String)
    /// A writer payload closure wrote a different number of bytes than the entry needs.
    case payloadByteCountMismatch(file: String, tensor: String, expected: Int, written: Int)

    /// A short lowercase message naming the file and the broken rule.
    public var description: String {
        switch self {
        case .fileAccess(let error):
            return error.description
        case .foreignFormat(let file, let format):
            return "\(file): not a safetensors file but \(format.description)"
        case .fileTooSmall(let file, let count):
            return "\(file): file has \(count) bytes, too small for the 8-byte safetensors header length"
        case .headerTooLarge(let file, let length, let limit):
            return "\(file): header length \(length) exceeds the limit of \(limit) bytes"
        case .headerBeyondFile(let file, let length, let size):
            return "\(file): header length \(length) runs past the end of the \(size)-byte file (truncated?)"
        case .headerNotUTF8(let file, let offset):
            return "\(file): header is not valid UTF-8 at byte \(offset)"
        case .invalidJSON(let file, let offset, let reason):
            return "\(file): invalid JSON at byte \(offset): \(reason)"
        case .duplicateKey(let file, let key, let path):
            return "\(file): duplicate key \(quoted(key)) in JSON object \(quoted(path))"
        case .headerNotObject(let file):
            return "\(file): header is not a JSON object"
        case .metadataNotObject(let file):
            return "\(file): __metadata__ is not an object of strings"
        case .metadataValueNotString(let file, let key):
            return "\(file): __metadata__ value for \(quoted(key)) is not a string"
        case .tensorEntryNotObject(let file, let tensor):
            return "\(file): tensor \(quoted(tensor)): header entry is not an object"
        case .missingField(let file, let tensor, let field):
            return "\(file): tensor \(quoted(tensor)): missing \(field)"
        case .invalidField(let file, let tensor, let field, let reason):
            return "\(file): tensor \(quoted(tensor)): \(field) \(reason)"
        case .unknownDType(let file, let tensor, let dtype):
            return "\(file): tensor \(quoted(tensor)): unknown dtype \(quoted(dtype))"
        case .unsupportedDType(let file, let tensor, let dtype):
            return "\(file): tensor \(quoted(tensor)): dtype \(dtype) is not supported by quail"
        case .invalidShape(let file, let tensor, let shape):
            return "\(file): tensor \(quoted(tensor)): shape \(shape) is negative or too large"
        case .reversedOffsets(let file, let tensor, let begin, let end):
            return "\(file): tensor \(quoted(tensor)): data_offsets end \(end) is before begin \(begin)"
        case .byteCountMismatch(let file, let tensor, let expected, let actual):
            return "\(file): tensor \(quoted(tensor)): data_offsets span \(actual) bytes, shape and dtype need \(expected)"
        case .overlappingTensors(let file, let tensor, let previous):
            return "\(file): tensor \(quoted(tensor)) overlaps tensor \(quoted(previous))"
        case .gapBeforeTensor(let file, let tensor, let start, let end):
            return "\(file): data bytes \(start)..<\(end) before tensor \(quoted(tensor)) belong to no tensor"
        case .tensorBeyondFile(let file, let tensor, let end, let count):
            return "\(file): tensor \(quoted(tensor)) ends at data byte \(end) but the file holds only \(count) data bytes (truncated?)"
        case .trailingBytes(let file, let end, let count):
            return "\(file): \(count - end) bytes after the last tensor belong to no tensor"
        case .noCheckpoint(let directory, let found):
            let hint = found.isEmpty ? "" : " (found: \(found.joined(separator: ", ")))"
            return "\(directory): no model.safetensors or model.safetensors.index.json\(hint)"
        case .invalidIndex(let file, let reason):
            return "\(file): invalid checkpoint index: \(reason)"
        case .shardPathNotAllowed(let index, let tensor, let shard):
            return "\(index): tensor \(quoted(tensor)) maps to shard path \(quoted(shard)), which is absolute, leaves the directory or is not a .safetensors file"
        case .inconsistentCheckpoint(let index, let problems):
            let shown = problems.prefix(5).map(\.description).joined(separator: "; ")
            let more = problems.count > 5 ? "; and \(problems.count - 5) more" : ""
            return "\(index): index and shards disagree: \(shown)\(more)"
        case .reservedTensorName(let file):
            return "\(file): __metadata__ is reserved and cannot name a tensor"
        case .duplicateEntry(let file, let tensor):
            return "\(file): tensor \(quoted(tensor)) is given twice"
        case .payloadByteCountMismatch(let file, let tensor, let expected, let written):
            return "\(file): tensor \(quoted(tensor)): payload wrote \(written) bytes, expected \(expected)"
        }
    }
}

/// A recognisable non-safetensors format found where a safetensors file was expected.
public enum ForeignFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    /// A Git LFS pointer (the real file was never downloaded).
    case gitLFSPointer
    /// An HTML page (a login, error or redirect page saved under the model's name).
    case html
    /// An XML document (typically a storage-service error response).
    case xml
    /// A JSON document (typically an API error response).
    case json
    /// A GGUF file.
    case gguf
    /// A ZIP archive (PyTorch's `.bin`/`.pt` format).
    case zip
    /// A Python pickle (old PyTorch format).
    case pickle

    /// What the file is, with a hint at how it got there.
    public var description: String {
        switch self {
        case .gitLFSPointer: "a git lfs pointer; fetch the real file with `git lfs pull`"
        case .html: "an html page; the download saved a web page instead of the file"
        case .xml: "an xml document; the download saved a server error response instead of the file"
        case .json: "a json document; the download saved a server error response instead of the file"
        case .gguf: "a gguf file"
        case .zip: "a zip archive (pytorch .bin/.pt checkpoint)"
        case .pickle: "a python pickle (old pytorch checkpoint)"
        }
    }
}

/// One disagreement between a sharded checkpoint's index and its shard files.
public enum CheckpointProblem: Equatable, Sendable, CustomStringConvertible {
    /// The index maps tensors (the first in sorted order is named) to a shard file that does not exist.
    case missingShard(shard: String, firstTensor: String)
    /// The index maps `tensor` to `shard`, but no shard contains it.
    case tensorMissingFromShard(tensor: String, shard: String)
    /// The index maps `tensor` to `indexShard`, but it is stored in `actualShard` instead.
    case tensorInWrongShard(tensor: String, indexShard: String, actualShard: String)
    /// A shard holds `tensor`, but the index does not list it.
    case tensorNotInIndex(tensor: String, shard: String)
    /// More than one shard holds `tensor`.
    case tensorInSeveralShards(tensor: String, shards: [String])

    /// A short message naming the tensor and shard files involved.
    public var description: String {
        switch self {
        case .missingShard(let shard, let tensor):
            "shard \(quoted(shard)) (holding \(quoted(tensor)), …) does not exist"
        case .tensorMissingFromShard(let tensor, let shard):
            "tensor \(quoted(tensor)) is not in its shard \(quoted(shard))"
        case .tensorInWrongShard(let tensor, let indexShard, let actualShard):
            "tensor \(quoted(tensor)) is in \(quoted(actualShard)), the index says \(quoted(indexShard))"
        case .tensorNotInIndex(let tensor, let shard):
            "tensor \(quoted(tensor)) in \(quoted(shard)) is not listed in the index"
        case .tensorInSeveralShards(let tensor, let shards):
            "tensor \(quoted(tensor)) is in several shards: \(shards.map(quoted).joined(separator: ", "))"
        }
    }
}

/// A name in single quotes for messages.
private func quoted(_ name: String) -> String { "'\(name)'" }
