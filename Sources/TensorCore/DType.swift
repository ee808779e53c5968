// SPDX-License-Identifier: Apache-2.0

/// An element type of a safetensors file, spelled as the safetensors header spells it.
///
/// The declaration order is the safetensors "alignment order" (`Dtype` in safetensors' `tensor.rs`);
/// ``alignmentRank`` exposes it so writers can order tensors exactly as the reference writer does.
public enum DType: String, CaseIterable, Sendable, Hashable {
    case bool = "BOOL"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3 = "F8_E4M3"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }

    /// Position in safetensors' declared dtype order (larger means "written first" by the reference writer).
    ///
    /// The reference enum also declares sub-byte and complex types; their slots are kept so that ranks
    /// of the types Quail supports compare exactly as the reference's do.
    public var alignmentRank: Int {
        switch self {
        case .bool: 0
        case .u8: 5
        case .i8: 6
        case .f8E5M2: 7
        case .f8E4M3: 8
        case .i16: 12
        case .u16: 13
        case .f16: 14
        case .bf16: 15
        case .i32: 16
        case .u32: 17
        case .f32: 18
        case .f64: 20
        case .i64: 21
        case .u64: 22
        }
    }

    /// True for the floating-point types that convert losslessly to `Float` (F32, F16, BF16).
    public var isConvertibleFloat: Bool {
        self == .f32 || self == .f16 || self == .bf16
    }
}
