// SPDX-License-Identifier: Apache-2.0
import TensorCore
import Testing

@testable import GGUF

@Suite("GGUF metadata, values and constants")
struct MetadataTests {
    @Test("setting a key replaces in place, appends new keys, and nil removes")
    func orderedSubscript() {
        var metadata = GGUFMetadata()
        metadata["a"] = .uint32(1)
        metadata["b"] = .string("x")
        metadata["c"] = .bool(true)
        metadata["a"] = .float32(2)
        #expect(metadata.keys == ["a", "b", "c"])
        #expect(metadata["a"] == .float32(2))
        metadata["b"] = nil
        metadata["missing"] = nil
        #expect(metadata.keys == ["a", "c"])
        #expect(metadata.entries.map(\.key) == ["a", "c"])
        #expect(metadata.entries.map(\.value) == [.float32(2), .bool(true)])
        metadata["b"] = .int8(-1)
        #expect(metadata.keys == ["a", "c", "b"])
    }

    @Test("metadata equality depends on order")
    func orderMatters() {
        var first = GGUFMetadata()
        first["a"] = .uint8(1)
        first["b"] = .uint8(2)
        var second = GGUFMetadata()
        second["b"] = .uint8(2)
        second["a"] = .uint8(1)
        #expect(first != second)
        second["b"] = nil
        second["b"] = .uint8(2)
        #expect(first == second)
    }

    @Test("values compare floats by bit pattern")
    func bitwiseFloatEquality() {
        #expect(GGUFValue.float32(.nan) == .float32(.nan))
        #expect(GGUFValue.float64(0) != .float64(-0.0))
        #expect(GGUFArray.float32([.nan, 1]) == .float32([.nan, 1]))
        #expect(GGUFValue.uint32(1) != .int32(1))
    }

    @Test("convenience accessors convert only matching cases")
    func accessors() {
        #expect(GGUFValue.uint16(7).intValue == 7)
        #expect(GGUFValue.int64(-3).intValue == -3)
        #expect(GGUFValue.uint64(.max).intValue == nil)
        #expect(GGUFValue.float32(0.5).floatValue == 0.5)
        #expect(GGUFValue.uint32(1).floatValue == nil)
        #expect(GGUFValue.string("s").stringValue == "s")
        #expect(GGUFValue.bool(true).stringValue == nil)
        #expect(GGUFValue.array(.int32([1, 2])).type == .array)
        #expect(
            GGUFArray.string(["a", "b"]).elementType == .string
                && GGUFArray.string(["a", "b"]).count == 2)
    }

    @Test("value type names are gguf-py's")
    func typeNames() {
        #expect(
            GGUFValueType.allCases.map(\.name) == [
                "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL", "STRING",
                "ARRAY",
                "UINT64", "INT64", "FLOAT64",
            ])
        #expect(GGUFValueType.allCases.map(\.rawValue) == Array(0...12))
    }

    @Test("key constants are spelled as in gguf-py")
    func keyNames() {
        #expect(
            GGUFKey.LLM.attentionLayerNormRMSEpsilon("llama")
                == "llama.attention.layer_norm_rms_epsilon")
        #expect(
            GGUFKey.LLM.ropeScalingOriginalContextLength("qwen2")
                == "qwen2.rope.scaling.original_context_length")
        #expect(GGUFKey.LLM.attentionHeadCountKV("llama") == "llama.attention.head_count_kv")
        #expect(GGUFKey.Tokenizer.chatTemplate == "tokenizer.chat_template")
        #expect(GGUFKey.Tokenizer.tokenType == "tokenizer.ggml.token_type")
        #expect(GGUFKey.Adapter.loraAlpha == "adapter.lora.alpha")
        #expect(GGUFKey.General.quantizationVersion == "general.quantization_version")
    }

    @Test("file types follow gguf-py LlamaFileType and llama-quantize's aliases")
    func fileTypes() {
        // Values from gguf-py constants.py LlamaFileType.
        #expect(LlamaFileType(dominantType: .f32)?.rawValue == 0)
        #expect(LlamaFileType(dominantType: .f16)?.rawValue == 1)
        #expect(LlamaFileType(dominantType: .q4_1)?.rawValue == 3)
        #expect(LlamaFileType(dominantType: .q8_0)?.rawValue == 7)
        #expect(LlamaFileType(dominantType: .q5_0)?.rawValue == 8)
        #expect(LlamaFileType(dominantType: .q4_K) == .mostlyQ4_K_M)
        #expect(LlamaFileType(dominantType: .q4_K)?.rawValue == 15)
        #expect(LlamaFileType(dominantType: .q6_K)?.rawValue == 18)
        #expect(LlamaFileType(dominantType: .iq4_NL)?.rawValue == 25)
        #expect(LlamaFileType(dominantType: .bf16)?.rawValue == 32)
        #expect(LlamaFileType(dominantType: .q8_K) == nil)
        #expect(LlamaFileType(dominantType: .i32) == nil)
        #expect(LlamaFileType.guessed.rawValue == 1024)
    }
}
