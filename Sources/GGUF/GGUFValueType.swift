// SPDX-License-Identifier: Apache-2.0

/// The type tag of a GGUF metadata value, with the on-disk id as raw value (`enum gguf_type` in ggml's
/// `include/gguf.h`, `GGUFValueType` in gguf-py `constants.py`).
public enum GGUFValueType: UInt32, CaseIterable, Sendable, Hashable {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// The name gguf-py prints for the type (`UINT32`, `FLOAT32`, `ARRAY`).
    public var name: String {
        switch self {
        case .uint8: "UINT8"
        case .int8: "INT8"
        case .uint16: "UINT16"
        case .int16: "INT16"
        case .uint32: "UINT32"
        case .int32: "INT32"
        case .float32: "FLOAT32"
        case .bool: "BOOL"
        case .string: "STRING"
        case .array: "ARRAY"
        case .uint64: "UINT64"
        case .int64: "INT64"
        case .float64: "FLOAT64"
        }
    }

    /// Bytes one value of this type takes on disk, or nil for the variable-length STRING and ARRAY.
    var fixedByteCount: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }
}
