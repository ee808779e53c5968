// SPDX-License-Identifier: Apache-2.0

/// Receives progress of long operations; the CLI draws a bar on a terminal and stays quiet in pipes.
public protocol ProgressReporting: Sendable {
    /// `completed` of `total` units done; `label` names the current item.
    func update(completed: Int, total: Int, label: String)
    /// The operation ended.
    func finish()
}

/// Progress that goes nowhere.
public struct SilentProgress: ProgressReporting {
    /// Creates a reporter that ignores every update.
    public init() {}
    public func update(completed: Int, total: Int, label: String) {}
    public func finish() {}
}
