// SPDX-License-Identifier: Apache-2.0
import Dispatch
import Synchronization

/// The forward pass's own threading: work is split into one piece per thread and run on Dispatch's workers,
/// while every OpenBLAS call inside runs single-threaded (no OpenBLAS worker pool spinning next to ours).
enum Parallel {
    /// Calls `body` on contiguous sub-ranges that cover `0..<count`, concurrently when there is enough work.
    ///
    /// - Parameters:
    ///   - threads: the most pieces to make.
    ///   - grain: the least number of items worth a thread of its own.
    ///   - alignment: interior split points are multiples of this (GEMM kernels prefer whole register tiles).
    static func forRanges(
        _ count: Int, threads: Int, grain: Int = 1, alignment: Int = 1, _ body: (Range<Int>) -> Void
    ) {
        let pieces = min(threads, max(1, count / max(1, grain, alignment)))
        guard pieces > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        func boundary(_ part: Int) -> Int {
            part == pieces ? count : min(count, (count * part / pieces + alignment / 2) / alignment * alignment)
        }
        forEach(pieces, threads: pieces) { part, _ in body(boundary(part)..<boundary(part + 1)) }
    }

    /// Calls `body(i, worker)` for every `i` in `0..<iterations` on `threads` workers (numbered `0..<threads`) that
    /// take the next index as they finish the previous one, so items of unequal cost balance out; waits for all.
    ///
    /// Callers hand each iteration disjoint memory (per-worker scratch can be indexed by `worker`); the closure is
    /// shared across threads without checking.
    static func forEach(_ iterations: Int, threads: Int, _ body: (_ index: Int, _ worker: Int) -> Void) {
        let workers = min(threads, iterations)
        guard workers > 1 else {
            for i in 0..<iterations { body(i, 0) }
            return
        }
        let next = Atomic<Int>(0)
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(value: body)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                while true {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard i < iterations else { return }
                    shared.value(i, worker)
                }
            }
        }
    }
}

/// A value handed to concurrent code whose safety the caller guarantees (disjoint writes).
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}
