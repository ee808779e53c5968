// SPDX-License-Identifier: Apache-2.0
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A buffered, append-only file writer that reports failures with the file's name.
///
/// Writers stream tensors through it one at a time, so peak memory stays at one buffer regardless of
/// the size of the file.
public final class FileOutputStream {
    /// The file being written.
    public let url: URL
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let capacity: Int
    /// Bytes written so far (including buffered bytes).
    public private(set) var position: Int = 0

    /// Creates (or truncates) the file at `url` with mode 0644.
    ///
    /// - Throws: ``FileAccessError`` if the file cannot be created.
    public init(url: URL, bufferCapacity: Int = 1 << 20) throws(FileAccessError) {
        self.url = url
        capacity = bufferCapacity
        fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileAccessError(path: url.path, operation: "create", code: errno) }
        buffer.reserveCapacity(bufferCapacity)
    }

    deinit { close(fd) }

    /// Appends raw bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(FileAccessError) {
        position += bytes.count
        if buffer.count + bytes.count <= capacity {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count >= capacity {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// Appends the bytes of an array.
    public func write(_ bytes: [UInt8]) throws(FileAccessError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(FileAccessError) in try write(raw) }
        }
        try result.get()
    }

    /// Appends `count` zero bytes.
    public func writeZeros(_ count: Int) throws(FileAccessError) {
        guard count > 0 else { return }
        try write([UInt8](repeating: 0, count: count))
    }

    /// Writes out buffered bytes.
    public func flush() throws(FileAccessError) {
        guard !buffer.isEmpty else { return }
        let pending = buffer
        buffer.removeAll(keepingCapacity: true)
        let result = pending.withUnsafeBytes { raw in
            Result { () throws(FileAccessError) in try writeAll(raw) }
        }
        try result.get()
    }

    /// Flushes and forces the data to stable storage.
    public func synchronize() throws(FileAccessError) {
        try flush()
        guard fsync(fd) == 0 else { throw FileAccessError(path: url.path, operation: "fsync", code: errno) }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(FileAccessError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileAccessError(path: url.path, operation: "write", code: errno)
            }
            offset += written
        }
    }
}
