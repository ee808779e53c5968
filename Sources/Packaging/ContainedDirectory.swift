// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore

#if canImport(Glibc)
    import Glibc
#endif

/// A directory whose files are listed and opened relative to one open descriptor, never following a symbolic
/// link: every path component is opened with `O_NOFOLLOW`, so no name can lead outside the directory, even if a
/// link is swapped in between listing and reading.
final class ContainedDirectory: @unchecked Sendable {
    /// One regular file found under the directory.
    struct File: Sendable {
        /// The POSIX path relative to the directory (`sub/weights.bin`).
        let name: String
        /// `name` split at `/`.
        let components: [String]
        /// Size when listed.
        let byteCount: Int
    }

    /// Directories nested deeper than this are rejected (each level holds a descriptor while it is listed).
    static let maxDepth = 128

    /// The directory as given.
    let url: URL
    private let descriptor: Int32

    /// Opens `url`, which must be a directory (a link to a directory is accepted for the top level only).
    init(url: URL) throws(PackagingError) {
        self.url = url
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOTDIR { throw .notADirectory(path: url.path) }
            throw .fileAccess(FileAccessError(path: url.path, operation: "open", code: errno))
        }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// The full path of a relative name, for messages.
    func path(of name: String) -> String { url.path + "/" + name }

    /// Every regular file under the directory that `ignoring` does not cover, sorted by the UTF-8 bytes of its
    /// name. Symbolic links, FIFOs, sockets, devices and names that are not UTF-8 are errors; ignored subtrees
    /// are not entered.
    func regularFiles(ignoring: IgnoreList) throws(PackagingError) -> [File] {
        var files: [File] = []
        try list(descriptor, prefix: [], ignoring: ignoring, into: &files)
        files.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return files
    }

    private func list(_ directory: Int32, prefix: [String], ignoring: IgnoreList, into files: inout [File])
        throws(PackagingError)
    {
        let here = prefix.isEmpty ? url.path : path(of: prefix.joined(separator: "/"))
        guard prefix.count < Self.maxDepth else {
            throw .fileAccess(
                FileAccessError(
                    path: here, operation: "list", code: ELOOP,
                    reason: "directories nested deeper than \(Self.maxDepth) levels"))
        }
        let listing = dup(directory)
        guard listing >= 0, let stream = fdopendir(listing) else {
            if listing >= 0 { close(listing) }
            throw .fileAccess(FileAccessError(path: here, operation: "opendir", code: errno))
        }
        defer { closedir(stream) }
        rewinddir(stream)
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                guard errno == 0 else { throw .fileAccess(FileAccessError(path: here, operation: "readdir", code: errno)) }
                return
            }
            var rawName = entry.pointee.d_name
            let nameBytes = withUnsafeBytes(of: &rawName) { Array($0.prefix { $0 != 0 }) }
            if nameBytes == [0x2E] || nameBytes == [0x2E, 0x2E] { continue }
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw .fileNameNotUTF8(path: here + "/" + String(decoding: nameBytes, as: UTF8.self))
            }
            let components = prefix + [name]
            let relative = components.joined(separator: "/")
            if ignoring.covers(components) { continue }
            var info = stat()
            guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw .fileAccess(FileAccessError(path: path(of: relative), operation: "stat", code: errno))
            }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                files.append(File(name: relative, components: components, byteCount: Int(info.st_size)))
            case S_IFDIR:
                let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else {
                    throw .fileAccess(FileAccessError(path: path(of: relative), operation: "open", code: errno))
                }
                defer { close(child) }
                try list(child, prefix: components, ignoring: ignoring, into: &files)
            case S_IFLNK:
                let target = linkTarget(directory, name)
                throw .symbolicLink(
                    path: path(of: relative), target: target,
                    escapesDirectory: Self.escapes(target: target, from: prefix, root: url))
            default:
                throw .specialFile(path: path(of: relative))
            }
        }
    }

    private func linkTarget(_ directory: Int32, _ name: String) -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = buffer.withUnsafeMutableBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { chars in
                guard let base = chars.baseAddress else { return -1 }
                return readlinkat(directory, name, base, chars.count - 1)
            }
        }
        return count < 0 ? "?" : String(decoding: buffer[..<count], as: UTF8.self)
    }

    /// Whether a link target, resolved by name from the link's directory `from`, lands outside the root.
    static func escapes(target: String, from: [String], root: URL) -> Bool {
        var stack: [Substring]
        var parts = target.split(separator: "/", omittingEmptySubsequences: true)[...]
        if target.hasPrefix("/") {
            let rootParts = root.standardizedFileURL.path.split(separator: "/")
            guard parts.starts(with: rootParts) else { return true }
            parts = parts.dropFirst(rootParts.count)
            stack = []
        } else {
            stack = from.map { Substring($0) }
        }
        for part in parts {
            if part == "." { continue }
            if part == ".." {
                guard stack.popLast() != nil else { return true }
            } else {
                stack.append(part)
            }
        }
        return false
    }

    /// Opens a listed file for reading, component by component with `O_NOFOLLOW`, and checks it is still a
    /// regular file. The caller closes the descriptor.
    func openForReading(_ file: File) throws(PackagingError) -> Int32 {
        var current = descriptor
        var opened: [Int32] = []
        defer { for fd in opened { close(fd) } }
        let full = path(of: file.name)
        for component in file.components.dropLast() {
            let next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else { throw Self.openError(full, errno) }
            opened.append(next)
            current = next
        }
        let fd = openat(current, file.components.last ?? ".", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw Self.openError(full, errno) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw .specialFile(path: full)
        }
        return fd
    }

    private static func openError(_ path: String, _ code: Int32) -> PackagingError {
        let reason = code == ELOOP || code == ENOTDIR ? "became a symbolic link while being read" : nil
        return .fileAccess(FileAccessError(path: path, operation: "open", code: code, reason: reason))
    }
}

/// Relative paths (files or whole subtrees) left out of a manifest.
public struct IgnoreList: Sendable {
    /// The paths as given, each a canonical relative POSIX path.
    public let paths: [String]
    private let keys: Set<[UInt8]>

    /// The top-level git paths model_signing leaves out by default (`hashing.Config`, `ignore_git_paths`).
    public static let gitPaths = [".git", ".gitattributes", ".github", ".gitignore"]

    /// Ignores each of `paths` and everything beneath it. Names compare byte for byte, with no Unicode folding.
    public init(_ paths: [String]) {
        var seen = Set<[UInt8]>()
        self.paths = paths.filter { seen.insert(Array($0.utf8)).inserted }
        keys = seen
    }

    /// Whether the relative path made of `components` is an ignored path or lies beneath one.
    func covers(_ components: [String]) -> Bool {
        var prefix: [UInt8] = []
        for (index, component) in components.enumerated() {
            if index > 0 { prefix.append(UInt8(ascii: "/")) }
            prefix.append(contentsOf: component.utf8)
            if keys.contains(prefix) { return true }
        }
        return false
    }
}
