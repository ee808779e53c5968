// SPDX-License-Identifier: Apache-2.0
import Dispatch
import Foundation

/// Runs independent work items on a bounded number of threads.
///
/// The bound is the environment variable `QUAIL_THREADS` (a positive integer) when set, otherwise the number
/// of active processors. Work items must not depend on which thread runs them, so results never depend on
/// the bound.
public enum ParallelWork {
    /// The most threads ``forEach(_:_:)`` uses: `QUAIL_THREADS`, or the active processor count.
    public static let workerLimit: Int = {
        if let text = ProcessInfo.processInfo.environment["QUAIL_THREADS"], let value = Int(text), value > 0 {
            return value
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Calls `body(i)` for every `i` in `0..<iterations`, on at most ``workerLimit`` threads.
    ///
    /// Runs on the calling thread when there is one item or one worker; otherwise worker `w` takes items
    /// `w`, `w + workers`, `w + 2·workers`, … in order.
    public static func forEach(_ iterations: Int, _ body: @Sendable (Int) -> Void) {
        let workers = min(workerLimit, iterations)
        guard workers > 1 else {
            for i in 0..<max(iterations, 0) { body(i) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var i = worker
            while i < iterations {
                body(i)
                i += workers
            }
        }
    }
}
