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
/// sequential; each worker reuses one buffer, which stays in the CPU caches between `read` and hashing.
enum ParallelFileHasher {
    /// Bytes per `read`.
    static let readSize = 1 << 20

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
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 4096)
            defer { buffer.deallocate() }
            while failure.withLock({ $0 == nil }) {
                let slot = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard slot < order.count else { return }
                let index = order[slot]
                do throws(PackagingError) {
                    let digest = try hashFile(files[index], in: directory, buffer: buffer) { count in
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
        _ file: ContainedDirectory.File, in directory: ContainedDirectory, buffer: UnsafeMutableRawBufferPointer,
        hashed: (Int) -> Void
    ) throws(PackagingError) -> [UInt8] {
        let fd = try directory.openForReading(file)
        defer { close(fd) }
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        var hasher = SHA256()
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw .fileAccess(FileAccessError(path: directory.path(of: file.name), operation: "read", code: errno))
            }
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            hashed(count)
        }
        return Array(hasher.finalize())
    }
}
