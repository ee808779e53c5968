// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// The values of `general.file_type` (gguf-py `LlamaFileType`, llama.cpp `enum llama_ftype`): the
/// dominant tensor type of a file ("mostly" because 1-D tensors usually stay F32).
// swift-format-ignore: AlwaysUseLowerCamelCase
public enum LlamaFileType: UInt32, CaseIterable, Sendable, Hashable {
    case allF32 = 0
    case mostlyF16 = 1
    case mostlyQ4_0 = 2
    case mostlyQ4_1 = 3
    case mostlyQ8_0 = 7
    case mostlyQ5_0 = 8
    case mostlyQ5_1 = 9
    case mostlyQ2_K = 10
    case mostlyQ3_K_S = 11
    case mostlyQ3_K_M = 12
    case mostlyQ3_K_L = 13
    case mostlyQ4_K_S = 14
    case mostlyQ4_K_M = 15
    case mostlyQ5_K_S = 16
    case mostlyQ5_K_M = 17
    case mostlyQ6_K = 18
    case mostlyIQ2_XXS = 19
    case mostlyIQ2_XS = 20
    case mostlyQ2_K_S = 21
    case mostlyIQ3_XS = 22
    case mostlyIQ3_XXS = 23
    case mostlyIQ1_S = 24
    case mostlyIQ4_NL = 25
    case mostlyIQ3_S = 26
    case mostlyIQ3_M = 27
    case mostlyIQ2_S = 28
    case mostlyIQ2_M = 29
    case mostlyIQ4_XS = 30
    case mostlyIQ1_M = 31
    case mostlyBF16 = 32
    case mostlyTQ1_0 = 36
    case mostlyTQ2_0 = 37
    case mostlyMXFP4_MOE = 38
    case mostlyNVFP4 = 39
    case mostlyQ1_0 = 40
    case guessed = 1024

    /// The file type to record for a file whose weight matrices are all of `type`, or nil for types that
    /// no file type names (Q8_1, Q8_K, integer types, F64).
    ///
    /// The bare k-quant types map as llama-quantize's aliases do (`Q3_K`, `Q4_K`, `Q5_K` mean `_M`;
    /// llama.cpp `tools/quantize/quantize.cpp`, `QUANT_OPTIONS`).
    public init?(dominantType type: GGMLType) {
        guard let fileType = Self.byDominantType[type] else { return nil }
        self = fileType
    }

    private static let byDominantType: [GGMLType: LlamaFileType] = [
        .f32: .allF32, .f16: .mostlyF16, .bf16: .mostlyBF16,
        .q4_0: .mostlyQ4_0, .q4_1: .mostlyQ4_1, .q5_0: .mostlyQ5_0, .q5_1: .mostlyQ5_1,
        .q8_0: .mostlyQ8_0,
        .q2_K: .mostlyQ2_K, .q3_K: .mostlyQ3_K_M, .q4_K: .mostlyQ4_K_M, .q5_K: .mostlyQ5_K_M,
        .q6_K: .mostlyQ6_K,
        .iq2_XXS: .mostlyIQ2_XXS, .iq2_XS: .mostlyIQ2_XS, .iq3_XXS: .mostlyIQ3_XXS,
        .iq1_S: .mostlyIQ1_S,
        .iq4_NL: .mostlyIQ4_NL, .iq3_S: .mostlyIQ3_S, .iq2_S: .mostlyIQ2_S, .iq4_XS: .mostlyIQ4_XS,
        .iq1_M: .mostlyIQ1_M, .tq1_0: .mostlyTQ1_0, .tq2_0: .mostlyTQ2_0, .mxfp4: .mostlyMXFP4_MOE,
    ]
}
