// SPDX-License-Identifier: Apache-2.0

/// What `quail init` refuses before or while solving.
public enum InitError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `--targets` names that match no linear layer.
    case unknownTargets([String])
    /// The rank exceeds `min(out, in)` of a targeted layer.
    case rankTooLarge(rank: Int, module: String, rows: Int, columns: Int)
    /// α is not positive and finite.
    case invalidAlpha(Double)
    /// A setting is out of range or does not fit the runtime.
    case invalidSetting(name: String, value: String, rule: String)
    /// A written adapter failed the compatibility check.
    case incompatibleAdapter(path: String, reason: String)

    public var description: String {
        switch self {
        case .unknownTargets(let names):
            "--targets: \(names.joined(separator: ", ")) match no linear layer (use q, k, v, o, gate, up, down)"
        case .rankTooLarge(let rank, let module, let rows, let columns):
            "--rank \(rank) is larger than min(out, in) = \(min(rows, columns)) of \(module) (\(rows) × \(columns))"
        case .invalidAlpha(let alpha): "--alpha \(alpha): must be positive and finite"
        case .invalidSetting(let name, let value, let rule): "\(name) \(value): \(rule)"
        case .incompatibleAdapter(let path, let reason): "\(path): adapter check failed: \(reason)"
        }
    }
}
