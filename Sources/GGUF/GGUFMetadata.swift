// SPDX-License-Identifier: Apache-2.0

/// The key/value section of a GGUF file: an ordered list of entries with unique keys.
///
/// The order is the file order when read, and the write order when passed to ``GGUFWriter``.
/// Setting an existing key replaces its value in place; setting a new key appends it; setting nil removes it.
public struct GGUFMetadata: Sendable, Equatable {
    /// The keys in order.
    public private(set) var keys: [String] = []
    private var values: [String: GGUFValue] = [:]

    /// Creates an empty metadata list.
    public init() {}

    /// The number of entries.
    public var count: Int { keys.count }

    /// The value stored under `key`; assigning replaces in place, appends a new key, or removes with nil.
    public subscript(key: String) -> GGUFValue? {
        get { values[key] }
        set {
            if let newValue {
                if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The entries in order.
    public var entries: [(key: String, value: GGUFValue)] {
        keys.compactMap { key in values[key].map { (key: key, value: $0) } }
    }

    /// True when `key` is present.
    public func contains(_ key: String) -> Bool { values[key] != nil }
}
