// SPDX-License-Identifier: Apache-2.0
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file or directory written under a temporary name beside its destination and renamed into place
/// only when complete, so that a failed or interrupted write never leaves a partial output at the destination.
///
/// Use ``temporaryURL`` for writing, then call ``commit()``; if the object is dropped without committing,
/// the temporary path is removed.
public final class AtomicOutput: @unchecked Sendable {
    /// The final path.
    public let destination: URL
    /// The path being written.
    public let temporaryURL: URL
    private var committed = false

    /// Prepares to write `destination`.
    ///
    /// - Parameters:
    ///   - destination: where the finished output goes.
    ///   - isDirectory: create the temporary path as an empty directory.
    ///   - overwrite: allow replacing an existing destination on commit.
    /// - Throws: ``FileAccessError`` if the destination exists and `overwrite` is false, or the temporary
    ///   path cannot be created.
    public init(destination: URL, isDirectory: Bool = false, overwrite: Bool = false) throws(FileAccessError) {
        self.destination = destination
        let manager = FileManager.default
        if !overwrite, manager.fileExists(atPath: destination.path) {
            throw FileAccessError(
                path: destination.path, operation: "create", code: EEXIST,
                reason: "already exists (use --force to replace it)")
        }
        let parent = destination.deletingLastPathComponent()
        let name = ".\(destination.lastPathComponent).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        temporaryURL = parent.appendingPathComponent(name)
        if isDirectory {
            do {
                try manager.createDirectory(at: temporaryURL, withIntermediateDirectories: false)
            } catch {
                throw FileAccessError(path: temporaryURL.path, operation: "mkdir", code: errno)
            }
        }
    }

    /// Moves the finished temporary output to the destination, replacing any existing one.
    ///
    /// - Throws: ``FileAccessError`` if the rename fails.
    public func commit() throws(FileAccessError) {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: destination.path, isDirectory: &isDirectory), isDirectory.boolValue {
            // rename(2) cannot replace a non-empty directory; move the old one aside first.
            let aside = temporaryURL.appendingPathExtension("old")
            guard rename(destination.path, aside.path) == 0 else {
                throw FileAccessError(path: destination.path, operation: "rename", code: errno)
            }
            guard rename(temporaryURL.path, destination.path) == 0 else {
                let code = errno
                _ = rename(aside.path, destination.path)
                throw FileAccessError(path: destination.path, operation: "rename", code: code)
            }
            try? manager.removeItem(at: aside)
        } else {
            guard rename(temporaryURL.path, destination.path) == 0 else {
                throw FileAccessError(path: destination.path, operation: "rename", code: errno)
            }
        }
        committed = true
    }

    deinit {
        if !committed { try? FileManager.default.removeItem(at: temporaryURL) }
    }
}
