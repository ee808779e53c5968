// SPDX-License-Identifier: Apache-2.0

/// A ggml tensor type, with ggml's numeric id as raw value (`enum ggml_type` in ggml's `include/ggml.h`).
///
/// This enum together with ``blockSize`` and ``typeSize`` is the single source of truth for
/// the geometry of every type Quail knows (gguf-py `GGML_QUANT_SIZES`, ggml `ggml-common.h`).
// swift-format-ignore: AlwaysUseLowerCamelCase
public enum GGMLType: UInt32, CaseIterable, Sendable, Hashable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case iq2_XXS = 16
    case iq2_XS = 17
    case iq3_XXS = 18
    case iq1_S = 19
    case iq4_NL = 20
    case iq3_S = 21
    case iq2_S = 22
    case iq4_XS = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case iq1_M = 29
    case bf16 = 30
    case tq1_0 = 34
    case tq2_0 = 35
    case mxfp4 = 39

    /// Elements per block.
    public var blockSize: Int { Self.geometry[self]?.block ?? 1 }

    /// Bytes per block.
    public var typeSize: Int { Self.geometry[self]?.bytes ?? 0 }

    /// The name ggml and gguf-py print (`Q4_K`, `BF16`, `IQ4_NL`).
    public var name: String { Self.geometry[self]?.name ?? "TYPE_\(rawValue)" }

    /// True for block-quantized types (block size greater than one).
    public var isQuantized: Bool { blockSize > 1 }

    /// Looks a type up by its ggml name, case-insensitively (`q4_k`, `Q8_0`, `bf16`).
    public init?(name: String) {
        let upper = name.uppercased()
        guard let match = Self.allCases.first(where: { $0.name == upper }) else { return nil }
        self = match
    }

    /// Bytes taken by one row of `elements` values, or nil when `elements` is not a whole number of blocks
    /// or the size overflows.
    public func rowByteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: typeSize)
        return overflow ? nil : bytes
    }

    private static let geometry: [GGMLType: (name: String, block: Int, bytes: Int)] = [
        .f32: ("F32", 1, 4), .f16: ("F16", 1, 2),
        .q4_0: ("Q4_0", 32, 18), .q4_1: ("Q4_1", 32, 20),
        .q5_0: ("Q5_0", 32, 22), .q5_1: ("Q5_1", 32, 24),
        .q8_0: ("Q8_0", 32, 34), .q8_1: ("Q8_1", 32, 36),
        .q2_K: ("Q2_K", 256, 84), .q3_K: ("Q3_K", 256, 110),
        .q4_K: ("Q4_K", 256, 144), .q5_K: ("Q5_K", 256, 176),
        .q6_K: ("Q6_K", 256, 210), .q8_K: ("Q8_K", 256, 292),
        .iq2_XXS: ("IQ2_XXS", 256, 66), .iq2_XS: ("IQ2_XS", 256, 74),
        .iq3_XXS: ("IQ3_XXS", 256, 98), .iq1_S: ("IQ1_S", 256, 50),
        .iq4_NL: ("IQ4_NL", 32, 18), .iq3_S: ("IQ3_S", 256, 110),
        .iq2_S: ("IQ2_S", 256, 82), .iq4_XS: ("IQ4_XS", 256, 136),
        .i8: ("I8", 1, 1), .i16: ("I16", 1, 2), .i32: ("I32", 1, 4), .i64: ("I64", 1, 8),
        .f64: ("F64", 1, 8), .iq1_M: ("IQ1_M", 256, 56), .bf16: ("BF16", 1, 2),
        .tq1_0: ("TQ1_0", 256, 54), .tq2_0: ("TQ2_0", 256, 66), .mxfp4: ("MXFP4", 32, 17),
    ]
}
