// SPDX-License-Identifier: Apache-2.0
import Dispatch
import Synchronization

/// The forward pass's threading: work is split into pieces run on Dispatch's workers, while every OpenBLAS call
/// inside runs single-threaded.
enum Parallel {
    /// Calls `body` on contiguous sub-ranges that cover `0..<count`, concurrently when there is enough work.
    ///
    /// - Parameters:
    ///   - threads: the most pieces to make.
    ///   - grain: the least number of items worth a thread of its own.
    static func forRanges(_ count: Int, threads: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        let pieces = min(threads, max(1, count / max(1, grain)))
        guard pieces > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        forEach(pieces, threads: pieces) { part, _ in body(count * part / pieces..<count * (part + 1) / pieces) }
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
