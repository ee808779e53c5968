// SPDX-License-Identifier: Apache-2.0
import Foundation
import QuailKit

/// A one-line progress bar on standard error, drawn only when standard error is a terminal.
final class TerminalProgress: QuailKit.ProgressReporting, @unchecked Sendable {
    private let label: String
    private let enabled = isatty(STDERR_FILENO) == 1
    private var lastDraw = Date.distantPast
    private let lock = NSLock()

    init(label: String) { self.label = label }

    func update(completed: Int, total: Int, label item: String) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard completed == total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        let width = 30
        let filled = total > 0 ? width * completed / total : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = "\r\(label) [\(bar)] \(completed)/\(total) \(item.prefix(40))"
        FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
