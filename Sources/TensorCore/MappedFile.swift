// SPDX-License-Identifier: Apache-2.0
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A read-only memory mapping of a whole file.
///
/// Pages are loaded by the kernel on first touch, so mapping a multi-gigabyte checkpoint costs nothing
/// until tensor bytes are read. The mapping lives as long as the object.
public final class MappedFile: @unchecked Sendable {
    /// The mapped file.
    public let url: URL
    /// The file's bytes; empty for an empty file.
    public let bytes: UnsafeRawBufferPointer

    /// Maps the file at `url` read-only.
    ///
    /// - Throws: ``FileAccessError`` if the file cannot be opened, is not a regular file, or cannot be mapped.
    public init(url: URL) throws(FileAccessError) {
        self.url = url
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileAccessError(path: url.path, operation: "open", code: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw FileAccessError(path: url.path, operation: "stat", code: errno)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw FileAccessError(path: url.path, operation: "open", code: EISDIR, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw FileAccessError(path: url.path, operation: "mmap", code: errno)
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// Tells the kernel that the whole pages inside `region` (a view into some mapping) will not be needed soon,
    /// so streaming through a large file keeps resident memory at about one tensor.
    ///
    /// The mapping stays valid: pages read again are loaded again from the file.
    public static func releasePages(of region: UnsafeRawBufferPointer) {
        guard let base = region.baseAddress, region.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + region.count) / page * page
        guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
        madvise(pointer, end - start, MADV_DONTNEED)
    }
}

/// A failed system call on a named file.
public struct FileAccessError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file's path.
    public let path: String
    /// The operation that failed (`open`, `stat`, `mmap`, `write`, `rename`, …).
    public let operation: String
    /// The `errno` value.
    public let code: Int32
    /// A reason to show instead of `strerror(code)`, if any.
    public let reason: String?

    /// Creates an error for `operation` on `path` that failed with `code`.
    public init(path: String, operation: String, code: Int32, reason: String? = nil) {
        self.path = path
        self.operation = operation
        self.code = code
        self.reason = reason
    }

    public var description: String {
        "\(path): \(operation) failed: \(reason ?? String(cString: strerror(code)))"
    }
}
