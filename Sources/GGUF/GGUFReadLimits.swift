// SPDX-License-Identifier: Apache-2.0

/// Caps the reader applies on top of the format's own rules, so that a small crafted file cannot make it
/// allocate or loop without bound.
///
/// Every length and count is also checked against the bytes left in the file before anything is
/// allocated; the caps bound what a large but well-formed file may ask for.
public struct GGUFReadLimits: Sendable, Equatable {
    /// The longest string (key, tensor name or value) in bytes: default 64 MiB (ggml allows 1 GiB).
    public var maxStringByteCount: Int
    /// The most elements of one array value: default 2^24 (ggml allows 2^30).
    public var maxArrayCount: Int
    /// The most metadata entries: default 2^16.
    public var maxKeyValueCount: Int
    /// The most tensors: default 2^20.
    public var maxTensorCount: Int
    /// The largest accepted `general.alignment`: default 2^20 (1 MiB).
    public var maxAlignment: Int
    /// Whether bytes after the padded end of the last tensor are accepted: default false.
    ///
    /// When false they throw ``GGUFError/trailingBytes(path:expectedSize:actualSize:)``; ggml ignores them.
    public var allowsTrailingBytes: Bool

    /// Creates limits; every argument has the default documented on its property.
    public init(
        maxStringByteCount: Int = 64 << 20, maxArrayCount: Int = 1 << 24,
        maxKeyValueCount: Int = 1 << 16, maxTensorCount: Int = 1 << 20, maxAlignment: Int = 1 << 20,
        allowsTrailingBytes: Bool = false
    ) {
        self.maxStringByteCount = maxStringByteCount
        self.maxArrayCount = maxArrayCount
        self.maxKeyValueCount = maxKeyValueCount
        self.maxTensorCount = maxTensorCount
        self.maxAlignment = maxAlignment
        self.allowsTrailingBytes = allowsTrailingBytes
    }

    /// Limits that only the format and the file size bound (for re-reading files this process wrote).
    public static let unbounded = GGUFReadLimits(
        maxStringByteCount: .max, maxArrayCount: .max, maxKeyValueCount: .max, maxTensorCount: .max,
        maxAlignment: .max)
}
