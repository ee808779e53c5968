// SPDX-License-Identifier: Apache-2.0
import Dispatch
import LinearAlgebra

/// Splits element-wise work over as many threads as OpenBLAS uses, so one setting (`OPENBLAS_NUM_THREADS` or
/// ``BLAS/setThreadCount(_:)``) governs the whole forward pass.
enum Parallel {
    /// Calls `body` on contiguous sub-ranges that cover `0..<count`, concurrently when there is enough work.
    ///
    /// - Parameter grain: the least number of items worth a thread of its own.
    static func forRanges(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        let threads = min(BLAS.threadCount, max(1, count / max(1, grain)))
        guard threads > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        forEach(threads) { part in body((count * part / threads)..<(count * (part + 1) / threads)) }
    }

    /// Calls `body(i)` for every `i` in `0..<iterations` on Dispatch's worker threads and waits for all of them.
    ///
    /// Callers hand each iteration disjoint memory; the closure is shared across threads without checking.
    static func forEach(_ iterations: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(value: body)
            DispatchQueue.concurrentPerform(iterations: iterations) { shared.value($0) }
        }
    }
}

/// A value handed to concurrent code whose safety the caller guarantees (disjoint writes).
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}
