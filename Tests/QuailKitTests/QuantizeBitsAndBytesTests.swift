// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import Quantization
import QuailKit
import SafeTensors
import TensorCore
import Testing

@Suite("quail quantize bitsandbytes (HF output)")
struct QuantizeBitsAndBytesTests {
    private let model = fixturesDirectory.appendingPathComponent("tiny-llama")
    private let linear = "model.layers.1.self_attn.q_proj"

    @Test("NF4 with double quantization: exactly the keys, dtypes and shapes transformers saves")
    func nf4KeySet() throws {
        let temp = try TemporaryDirectory()
        try runQuantize(model, temp.path("hf"), type: "nf4")
        let out = try SafeTensorsCheckpoint(directory: temp.path("hf"))
        let source = try SafeTensorsCheckpoint(directory: model)
        var expected: [String: (DType, [Int])] = [:]
        for name in source.tensorNames {
            let (_, info) = try #require(source.locate(name))
            guard info.shape.count == 2, name.contains("layers") else {
                expected[name] = (info.dtype, info.shape)  // embeddings and norms stay BF16
                continue
            }
            let n = info.shape.reduce(1, *), blocks = (n + 63) / 64
            let prefix = String(name.dropLast(".weight".count))
            let json = try #require(out.locate(name + ".quant_state.bitsandbytes__nf4")).info.shape
            expected[name] = (.u8, [(n + 1) / 2, 1])
            expected[prefix + ".weight.absmax"] = (.u8, [blocks])
            expected[prefix + ".weight.quant_map"] = (.f32, [16])
            expected[prefix + ".weight.nested_absmax"] = (.f32, [(blocks + 255) / 256])
            expected[prefix + ".weight.nested_quant_map"] = (.f32, [256])
            expected[prefix + ".weight.quant_state.bitsandbytes__nf4"] = (.u8, json)
        }
        #expect(Set(out.tensorNames) == Set(expected.keys))
        for name in out.tensorNames {
            let (_, info) = try #require(out.locate(name))
            #expect(info.dtype == expected[name]?.0 && info.shape == expected[name]?.1, "\(name)")
        }
        #expect(out.files.allSatisfy { $0.metadata == ["format": "pt"] })
        #expect(try floats(out, linear + ".weight.quant_map") == BitsAndBytes4BitType.nf4.codebook)
        #expect(try floats(out, linear + ".weight.nested_quant_map") == BitsAndBytesDynamicMap.values)
    }

    @Test("the dry run's byte counts are exact without double quantization and an upper bound with it")
    func dryRunBytes() throws {
        let temp = try TemporaryDirectory()
        for double in [false, true] {
            let plan = try runQuantize(model, temp.path("hf"), type: "nf4", doubleQuantization: double, dryRun: true)
            let real = try runQuantize(model, temp.path("hf"), type: "nf4", doubleQuantization: double)
            let pairs = zip(plan.tensors, real.tensors)
            #expect(pairs.allSatisfy { double ? $0.byteCount >= $1.byteCount : $0.byteCount == $1.byteCount })
            let stored = try SafeTensorsCheckpoint(directory: temp.path("hf"))
            let total = try stored.tensorNames.reduce(0) { $0 + (try #require(stored.locate($1)).info.byteCount) }
            #expect(total == real.totalByteCount)
            try FileManager.default.removeItem(at: temp.path("hf"))
        }
    }

    @Test("the quant-state JSON is bitsandbytes' text for the source dtype and shape")
    func quantStateJSON() throws {
        let temp = try TemporaryDirectory()
        try runQuantize(model, temp.path("dq"), type: "nf4")
        try runQuantize(model, temp.path("plain"), type: "fp4", blockSize: 128, doubleQuantization: false)
        func text(_ directory: URL, _ key: String) throws -> String {
            let out = try SafeTensorsCheckpoint(directory: directory)
            let (file, info) = try #require(out.locate(key))
            return String(decoding: file.bytes(of: info), as: UTF8.self)
        }
        let dq = try text(temp.path("dq"), linear + ".weight.quant_state.bitsandbytes__nf4")
        #expect(dq.hasPrefix(#"{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [64, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": "#))
        let offset = try #require(Double(dq.dropFirst(dq.count - 30).split(separator: " ").last?.dropLast() ?? ""))
        let reader = try BitsAndBytesCheckpoint(directory: temp.path("dq"))
        #expect(Float(offset).isFinite && reader.storage(of: linear + ".weight") == .fourBit(.nf4, blockSize: 64, doubleQuantization: true, dtype: .bf16))
        let plain = try text(temp.path("plain"), linear + ".weight.quant_state.bitsandbytes__fp4")
        #expect(plain == #"{"quant_type": "fp4", "blocksize": 128, "dtype": "bfloat16", "shape": [64, 64]}"#)
    }

    @Test("config.json gets the 13-key quantization_config and keeps torch_dtype and rope_theta")
    func configBlock() throws {
        let temp = try TemporaryDirectory()
        try runQuantize(model, temp.path("hf"), type: "nf4")
        let config = try JSONValue(parsing: Data(contentsOf: temp.path("hf/config.json")))
        let block = try #require(config["quantization_config"])
        let expected: [(String, JSONValue)] = [
            ("_load_in_4bit", .bool(true)), ("_load_in_8bit", .bool(false)),
            ("bnb_4bit_compute_dtype", .string("bfloat16")), ("bnb_4bit_quant_storage", .string("uint8")),
            ("bnb_4bit_quant_type", .string("nf4")), ("bnb_4bit_use_double_quant", .bool(true)),
            ("llm_int8_enable_fp32_cpu_offload", .bool(false)), ("llm_int8_has_fp16_weight", .bool(false)),
            ("llm_int8_skip_modules", .null), ("llm_int8_threshold", .number(6.0)), ("load_in_4bit", .bool(true)),
            ("load_in_8bit", .bool(false)), ("quant_method", .string("bitsandbytes")),
        ]
        #expect(block == .object(expected))
        let text = try String(contentsOf: temp.path("hf/config.json"), encoding: .utf8)
        #expect(text.contains(#""llm_int8_threshold": 6.0"#))
        #expect(config["torch_dtype"] == .string("bfloat16") && config["rope_theta"] != nil)
        for file in ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"] {
            #expect(
                try Data(contentsOf: temp.path("hf").appendingPathComponent(file))
                    == Data(contentsOf: model.appendingPathComponent(file)))
        }
    }

    @Test("read-back dequantization equals BitsAndBytes4BitCodec on the source values", arguments: [true, false])
    func readBack(double: Bool) throws {
        let temp = try TemporaryDirectory()
        let source = try makeSyntheticCheckpoint(in: temp, hidden: 64, intermediate: 160)
        try runQuantize(source, temp.path("hf"), type: "nf4", blockSize: 32, doubleQuantization: double)
        let reader = try BitsAndBytesCheckpoint(directory: temp.path("hf"))
        let original = try SafeTensorsCheckpoint(directory: source)
        #expect(Set(reader.tensorNames) == Set(original.tensorNames))
        for name in original.tensorNames {
            let values = try floats(original, name)
            let shape = try #require(original.locate(name)).info.shape
            let back = try reader.dequantized(name)
            #expect(reader.shape(of: name) == shape)
            guard name.contains("_proj") else {
                #expect(back == values, "\(name) stays float")
                continue
            }
            let tensor = try values.withUnsafeBufferPointer {
                try BitsAndBytes4BitCodec.quantize($0, shape: shape, as: .nf4, blockSize: 32, doubleQuantization: double)
            }
            #expect(back == BitsAndBytes4BitCodec.dequantize(tensor), "\(name)")
        }
    }

    @Test("LLM.int8: weight I8, SCB F32, weight_format U8 0, load_in_8bit; read-back equals the codec")
    func int8() throws {
        let temp = try TemporaryDirectory()
        let source = try makeSyntheticCheckpoint(in: temp, hidden: 64)
        try runQuantize(source, temp.path("hf"), type: "int8")
        let out = try SafeTensorsCheckpoint(directory: temp.path("hf"))
        let prefix = "model.layers.0.mlp.down_proj"
        #expect(out.locate(prefix + ".weight")?.info.dtype == .i8 && out.locate(prefix + ".weight")?.info.shape == [64, 96])
        #expect(out.locate(prefix + ".SCB")?.info.dtype == .f32 && out.locate(prefix + ".SCB")?.info.shape == [64])
        let format = try #require(out.locate(prefix + ".weight_format"))
        #expect(format.info.dtype == .u8 && format.info.shape == [] && Array(format.file.bytes(of: format.info)) == [0])
        let config = try JSONValue(parsing: Data(contentsOf: temp.path("hf/config.json")))
        #expect(config["quantization_config"]?["load_in_8bit"] == .bool(true))
        #expect(config["quantization_config"]?["load_in_4bit"] == .bool(false))
        let reader = try BitsAndBytesCheckpoint(directory: temp.path("hf"))
        let values = try floats(try SafeTensorsCheckpoint(directory: source), prefix + ".weight")
        let expected = try values.withUnsafeBufferPointer { try BitsAndBytesInt8Codec.quantize($0, rows: 64, columns: 96) }
        #expect(try reader.dequantized(prefix + ".weight") == BitsAndBytesInt8Codec.dequantize(expected))
    }

    @Test("sharded output lists every key in the index and reads back the same")
    func sharded() throws {
        let temp = try TemporaryDirectory()
        try runQuantize(model, temp.path("one"), type: "nf4")
        try runQuantize(model, temp.path("many"), type: "nf4", maxShardByteCount: 40_000)
        let one = try SafeTensorsCheckpoint(directory: temp.path("one"))
        let many = try SafeTensorsCheckpoint(directory: temp.path("many"))
        #expect(many.files.count > 1 && one.tensorNames == many.tensorNames)
        let index = try JSONValue(parsing: Data(contentsOf: temp.path("many/model.safetensors.index.json")))
        #expect(Set(index["weight_map"]?.objectValue?.map(\.0) ?? []) == Set(one.tensorNames))
        let a = try BitsAndBytesCheckpoint(directory: temp.path("one"))
        let b = try BitsAndBytesCheckpoint(directory: temp.path("many"))
        for name in a.tensorNames { #expect(try a.dequantized(name) == b.dequantized(name), "\(name)") }
    }

    @Test("a kept Linear stays float and is listed in llm_int8_skip_modules with lm_head")
    func keptLinear() throws {
        let temp = try TemporaryDirectory()
        let report = try runQuantize(model, temp.path("hf"), type: "nf4", keep: ["layers\\.0\\.self_attn\\.q_proj"])
        #expect(report.tensors.first { $0.hfName == "model.layers.0.self_attn.q_proj.weight" }?.target == .ggml(.bf16))
        let config = try JSONValue(parsing: Data(contentsOf: temp.path("hf/config.json")))
        #expect(
            config["quantization_config"]?["llm_int8_skip_modules"]
                == .array([.string("lm_head"), .string("model.layers.0.self_attn.q_proj")]))
        let out = try SafeTensorsCheckpoint(directory: temp.path("hf"))
        #expect(out.locate("model.layers.0.self_attn.q_proj.weight")?.info.dtype == .bf16)
        #expect(out.locate("model.layers.0.self_attn.q_proj.weight.absmax") == nil)
    }

    @Test("a GGUF source is un-permuted to HF order before NF4 quantization")
    func fromGGUF() throws {
        let temp = try TemporaryDirectory()
        _ = try CheckpointConverter.convert(from: model, to: temp.path("m.gguf"))
        try runQuantize(temp.path("m.gguf"), temp.path("from-gguf"), type: "nf4")
        try runQuantize(model, temp.path("from-hf"), type: "nf4")
        let a = try BitsAndBytesCheckpoint(directory: temp.path("from-gguf"))
        let b = try BitsAndBytesCheckpoint(directory: temp.path("from-hf"))
        #expect(a.tensorNames == b.tensorNames)
        for name in a.tensorNames { #expect(try a.dequantized(name) == b.dequantized(name), "\(name)") }
    }

    @Test("the reader rejects a quant state with an unknown key, and a config that contradicts the tensors")
    func readerErrors() throws {
        let temp = try TemporaryDirectory()
        try runQuantize(model, temp.path("hf"), type: "nf4", doubleQuantization: false)
        let weights = temp.path("hf/model.safetensors")
        let original = try SafeTensorsFile(contentsOf: weights)
        let stateKey = linear + ".weight.quant_state.bitsandbytes__nf4"
        let badJSON = Array(#"{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [64, 64], "extra": 1}"#.utf8)
        let entries = original.tensors.map {
            SafeTensorsWriter.Entry(name: $0.name, dtype: $0.dtype, shape: $0.name == stateKey ? [badJSON.count] : $0.shape)
        }
        let rewritten = temp.path("new.safetensors")
        try SafeTensorsWriter.write(to: rewritten, tensors: entries) { entry, stream in
            if entry.name == stateKey { return try stream.write(badJSON) }
            try stream.write(original.bytes(of: try #require(original[entry.name])))
        }
        try FileManager.default.removeItem(at: weights)
        try FileManager.default.moveItem(at: rewritten, to: weights)
        do {
            _ = try BitsAndBytesCheckpoint(directory: temp.path("hf"))
            Issue.record("expected an error")
        } catch CheckpointError.invalidQuantizedTensor(let path, let tensor, let reason) {
            #expect(path == weights.path && tensor == stateKey && reason.contains("extra"))
        }

        let other = temp.path("dq")
        try runQuantize(model, other, type: "nf4")
        let configURL = other.appendingPathComponent("config.json")
        let text = try String(contentsOf: configURL, encoding: .utf8)
        try text.replacingOccurrences(of: #""bnb_4bit_use_double_quant": true"#, with: #""bnb_4bit_use_double_quant": false"#)
            .write(to: configURL, atomically: true, encoding: .utf8)
        #expect(throws: CheckpointError.self) { try BitsAndBytesCheckpoint(directory: other) }
    }
}
