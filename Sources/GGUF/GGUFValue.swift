// SPDX-License-Identifier: Apache-2.0

/// One GGUF metadata value: a scalar of one of the twelve scalar types, or an array of one of them.
///
/// Equality compares what would be written to disk: floating-point values are equal when their bit
/// patterns are equal, so a NaN equals the same NaN and `0.0` differs from `-0.0`.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string(String)
    case array(GGUFArray)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)

    /// The value's type tag.
    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .array: .array
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        }
    }

    /// The value of any integer case as `Int`, or nil for other cases and for a UINT64 above `Int.max`.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// The value of a FLOAT32 or FLOAT64 as `Double`, or nil for other cases.
    public var floatValue: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: nil
        }
    }

    /// The value of a STRING, or nil for other cases.
    public var stringValue: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    /// The value of a BOOL, or nil for other cases.
    public var boolValue: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    /// The value of an ARRAY, or nil for other cases.
    public var arrayValue: GGUFArray? {
        if case .array(let v) = self { return v }
        return nil
    }

    public static func == (lhs: GGUFValue, rhs: GGUFValue) -> Bool {
        switch (lhs, rhs) {
        case (.uint8(let a), .uint8(let b)): a == b
        case (.int8(let a), .int8(let b)): a == b
        case (.uint16(let a), .uint16(let b)): a == b
        case (.int16(let a), .int16(let b)): a == b
        case (.uint32(let a), .uint32(let b)): a == b
        case (.int32(let a), .int32(let b)): a == b
        case (.float32(let a), .float32(let b)): a.bitPattern == b.bitPattern
        case (.bool(let a), .bool(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.uint64(let a), .uint64(let b)): a == b
        case (.int64(let a), .int64(let b)): a == b
        case (.float64(let a), .float64(let b)): a.bitPattern == b.bitPattern
        default: false
        }
    }
}

/// The payload of a GGUF ARRAY value: elements of one scalar type (ggml rejects arrays of arrays).
///
/// Equality compares floating-point elements by bit pattern, as ``GGUFValue`` does.
public enum GGUFArray: Sendable, Equatable {
    case uint8([UInt8])
    case int8([Int8])
    case uint16([UInt16])
    case int16([Int16])
    case uint32([UInt32])
    case int32([Int32])
    case float32([Float])
    case bool([Bool])
    case string([String])
    case uint64([UInt64])
    case int64([Int64])
    case float64([Double])

    /// The type tag of the elements.
    public var elementType: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        }
    }

    /// The number of elements.
    public var count: Int {
        switch self {
        case .uint8(let v): v.count
        case .int8(let v): v.count
        case .uint16(let v): v.count
        case .int16(let v): v.count
        case .uint32(let v): v.count
        case .int32(let v): v.count
        case .float32(let v): v.count
        case .bool(let v): v.count
        case .string(let v): v.count
        case .uint64(let v): v.count
        case .int64(let v): v.count
        case .float64(let v): v.count
        }
    }

    public static func == (lhs: GGUFArray, rhs: GGUFArray) -> Bool {
        switch (lhs, rhs) {
        case (.uint8(let a), .uint8(let b)): a == b
        case (.int8(let a), .int8(let b)): a == b
        case (.uint16(let a), .uint16(let b)): a == b
        case (.int16(let a), .int16(let b)): a == b
        case (.uint32(let a), .uint32(let b)): a == b
        case (.int32(let a), .int32(let b)): a == b
        case (.float32(let a), .float32(let b)): a.map(\.bitPattern) == b.map(\.bitPattern)
        case (.bool(let a), .bool(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.uint64(let a), .uint64(let b)): a == b
        case (.int64(let a), .int64(let b)): a == b
        case (.float64(let a), .float64(let b)): a.map(\.bitPattern) == b.map(\.bitPattern)
        default: false
        }
    }
}
