// SPDX-License-Identifier: Apache-2.0
import Crypto
import Dispatch
import Foundation
import Synchronization
import TensorCore

#if canImport(Glibc)
    import Glibc
#endif

/// Receives hashing progress: bytes hashed so far and the total.
public typealias HashingProgress = @Sendable (_ completedBytes: Int, _ totalBytes: Int) -> Void

/// SHA-256 of whole files, several files at a time.
///
/// Each file is one sequential SHA-256 stream (the digest model_signing's `files` serialization records), so the
/// parallelism is across files: one worker per core takes the largest file not yet started. Reads are large and
/// hashed straight from a read-only memory mapping of the file (no copy into a buffer: from the page cache this
/// runs at the in-memory SHA-256 speed, where `read` into a buffer costs about 10% more for the kernel's copy).
enum ParallelFileHasher {
    /// Bytes hashed (and reported) per step.
    static let stepSize = 16 << 20

    /// The SHA-256 digest of each of `files`, in the same order.
    static func sha256(
        of files: [ContainedDirectory.File], in directory: ContainedDirectory, workers: Int? = nil,
        progress: HashingProgress? = nil
    ) throws(PackagingError) -> [[UInt8]] {
        let order = files.indices.sorted { files[$0].byteCount > files[$1].byteCount }
        let totalBytes = files.reduce(0) { $0 + $1.byteCount }
        let workerCount = max(1, min(workers ?? ProcessInfo.processInfo.activeProcessorCount, files.count))
        let next = Atomic<Int>(0)
        let hashedBytes = Atomic<Int>(0)
        let digests = Mutex<[[UInt8]]>(Array(repeating: [], count: files.count))
        let failure = Mutex<PackagingError?>(nil)
        DispatchQueue.concurrentPerform(iterations: workerCount) { _ in
            while failure.withLock({ $0 == nil }) {
                let slot = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard slot < order.count else { return }
                let index = order[slot]
                do throws(PackagingError) {
                    let digest = try hashFile(files[index], in: directory) { count in
                        let done = hashedBytes.wrappingAdd(count, ordering: .relaxed).newValue
                        progress?(done, totalBytes)
                    }
                    digests.withLock { $0[index] = digest }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return digests.withLock { $0 }
    }

    private static func hashFile(
        _ file: ContainedDirectory.File, in directory: ContainedDirectory, hashed: (Int) -> Void
    ) throws(PackagingError) -> [UInt8] {
        let fd = try directory.openForReading(file)
        defer { close(fd) }
        let path = directory.path(of: file.name)
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw .fileAccess(FileAccessError(path: path, operation: "stat", code: errno))
        }
        var hasher = SHA256()
        let size = Int(status.st_size)
        if size > 0 {
            guard let base = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else {
                throw .fileAccess(FileAccessError(path: path, operation: "mmap", code: errno))
            }
            defer { munmap(base, size) }
            _ = madvise(base, size, MADV_SEQUENTIAL)
            var offset = 0
            while offset < size {
                let count = min(stepSize, size - offset)
                hasher.update(bufferPointer: UnsafeRawBufferPointer(start: base + offset, count: count))
                hashed(count)
                offset += count
            }
        }
        return Array(hasher.finalize())
    }
}
