// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import Quantization
import QuailKit
import SafeTensors
import TensorCore
import Testing

@Suite("CheckpointConverter")
struct CheckpointConverterTests {
    @Test("HF → GGUF → HF keeps tensor bytes and GGUF → HF → GGUF keeps file bytes", arguments: [
        "tiny-llama", "tiny-llama-untied", "tiny-llama-f16",
    ])
    func roundTrips(model: String) throws {
        let temp = try TemporaryDirectory()
        let source = fixturesDirectory.appendingPathComponent(model)
        let first = temp.path("a.gguf"), hf = temp.path("hf"), second = temp.path("b.gguf")
        let report = try CheckpointConverter.convert(from: source, to: first)
        let original = try SafeTensorsCheckpoint(directory: source)
        // 1-D tensors (the norms) are widened to F32, as llama.cpp's converter writes them; nothing else changes.
        let vectors = original.tensorNames.filter { original.locate($0)?.1.shape.count == 1 }.sorted()
        let modelType = try #require(original.locate("model.embed_tokens.weight")).1.dtype
        let widened = modelType == .f32 ? [] : vectors
        #expect(report.casts.map(\.tensor).sorted() == widened)
        #expect(report.casts.allSatisfy { $0.to == "F32" && $0.lossless && $0.from == modelType.rawValue })
        let gguf = try GGUFFile(contentsOf: first)
        #expect(gguf.tensors.filter { $0.dimensions.count == 1 }.count == vectors.count)
        #expect(gguf.tensors.allSatisfy { $0.dimensions.count > 1 || $0.type == .f32 })
        _ = try CheckpointConverter.convert(from: first, to: hf)
        _ = try CheckpointConverter.convert(from: hf, to: second)
        #expect(try Data(contentsOf: first) == Data(contentsOf: second))
        #expect(!FileManager.default.fileExists(atPath: hf.appendingPathComponent(GGUFSidecar.fileName).path))

        let back = try SafeTensorsCheckpoint(directory: hf)
        #expect(original.tensorNames == back.tensorNames)
        for name in original.tensorNames {
            let (a, ai) = try #require(original.locate(name))
            let (b, bi) = try #require(back.locate(name))
            #expect(ai.dtype == bi.dtype && ai.shape == bi.shape)
            #expect(Array(a.bytes(of: ai)) == Array(b.bytes(of: bi)), "\(name)")
        }
    }

    @Test("keys HF files cannot hold go to the sidecar and come back in place")
    func sidecarKeepsForeignKeys() throws {
        let temp = try TemporaryDirectory()
        let plain = temp.path("plain.gguf")
        _ = try CheckpointConverter.convert(from: fixturesDirectory.appendingPathComponent("tiny-llama"), to: plain)
        let file = try GGUFFile(contentsOf: plain)
        var metadata = GGUFMetadata()
        for (index, (key, value)) in file.metadata.entries.enumerated() {
            metadata[key] = value
            if index == 1 { metadata["general.name"] = .string("Tiny Llama") }
        }
        metadata["general.languages"] = .array(.string(["en", "de"]))
        metadata["tokenizer.ggml.pre"] = .string("refact")
        let custom = temp.path("custom.gguf")
        try rewrite(file, to: custom, metadata: metadata)

        let hf = temp.path("hf"), back = temp.path("back.gguf")
        let report = try CheckpointConverter.convert(from: custom, to: hf)
        #expect(report.notes.contains { $0.contains(GGUFSidecar.fileName) })
        _ = try CheckpointConverter.convert(from: hf, to: back)
        #expect(try Data(contentsOf: custom) == Data(contentsOf: back))
    }

    @Test("a GGUF with block-quantized tensors needs --dtype for HF, and dequantizes exactly with it")
    func quantizedNeedsDType() throws {
        let temp = try TemporaryDirectory()
        let plain = temp.path("plain.gguf")
        _ = try CheckpointConverter.convert(
            from: fixturesDirectory.appendingPathComponent("tiny-llama-untied"), to: plain)
        let file = try GGUFFile(contentsOf: plain)
        let quantized = temp.path("q8.gguf")
        try rewrite(file, to: quantized, metadata: file.metadata, quantize: "blk.0.ffn_up.weight")

        #expect(throws: CheckpointError.self) { try CheckpointConverter.convert(from: quantized, to: temp.path("hf")) }
        #expect(!FileManager.default.fileExists(atPath: temp.path("hf").path))

        let report = try CheckpointConverter.convert(
            from: quantized, to: temp.path("hf32"), options: .init(dtype: .f32))
        let cast = try #require(report.casts.first { $0.tensor == "model.layers.0.mlp.up_proj.weight" })
        #expect(cast.from == "Q8_0" && cast.to == "F32" && !cast.lossless)
        let qfile = try GGUFFile(contentsOf: quantized)
        let info = try #require(qfile["blk.0.ffn_up.weight"])
        var expected = [Float](repeating: 0, count: info.dimensions.reduce(1, *))
        try expected.withUnsafeMutableBufferPointer { try GGMLCodec.dequantize(qfile.bytes(of: info), as: .q8_0, into: $0) }
        let hf = try SafeTensorsCheckpoint(directory: temp.path("hf32"))
        let (out, outInfo) = try #require(hf.locate("model.layers.0.mlp.up_proj.weight"))
        let got = Array(out.bytes(of: outInfo).bindMemory(to: Float.self))
        #expect(got.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test("the HF side gets 1-D tensors in the model type only when every bit survives, else F32")
    func vectorsNarrowOnlyWhenExact() throws {
        let temp = try TemporaryDirectory()
        let plain = temp.path("plain.gguf")
        _ = try CheckpointConverter.convert(from: fixturesDirectory.appendingPathComponent("tiny-llama"), to: plain)
        let file = try GGUFFile(contentsOf: plain)
        // 1.0 + 2^-20 is an F32 value BF16 cannot hold: that norm must stay F32 on the HF side.
        let odd = temp.path("odd.gguf")
        try rewrite(file, to: odd, metadata: file.metadata) { name, values in
            if name == "output_norm.weight" { values[0] = 1 + 0x1p-20 }
            return nil
        }
        let hf = temp.path("hf"), back = temp.path("back.gguf")
        let report = try CheckpointConverter.convert(from: odd, to: hf)
        #expect(report.casts.map(\.tensor).sorted() == [
            "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
            "model.layers.1.input_layernorm.weight", "model.layers.1.post_attention_layernorm.weight",
        ])
        #expect(report.casts.allSatisfy { $0.from == "F32" && $0.to == "BF16" && $0.lossless })
        let weights = try SafeTensorsCheckpoint(directory: hf)
        #expect(weights.locate("model.norm.weight")?.1.dtype == .f32)
        #expect(weights.locate("model.layers.1.input_layernorm.weight")?.1.dtype == .bf16)
        _ = try CheckpointConverter.convert(from: hf, to: back)
        #expect(try Data(contentsOf: odd) == Data(contentsOf: back))
    }

    @Test("a GGUF with BF16 norms keeps them through HF via the sidecar; --dtype writes them F32")
    func nonF32VectorsRoundTripThroughSidecar() throws {
        let temp = try TemporaryDirectory()
        let plain = temp.path("plain.gguf")
        _ = try CheckpointConverter.convert(from: fixturesDirectory.appendingPathComponent("tiny-llama"), to: plain)
        let file = try GGUFFile(contentsOf: plain)
        let old = temp.path("bf16-norms.gguf")  // what Quail wrote before 1-D tensors became F32
        try rewrite(file, to: old, metadata: file.metadata) { name, _ in name.hasSuffix("norm.weight") ? .bf16 : nil }
        #expect(try GGUFFile(contentsOf: old)["output_norm.weight"]?.type == .bf16)

        let hf = temp.path("hf"), back = temp.path("back.gguf")
        let report = try CheckpointConverter.convert(from: old, to: hf)
        #expect(report.casts.isEmpty)
        let sidecarURL = hf.appendingPathComponent(GGUFSidecar.fileName)
        let sidecar = try GGUFSidecar(json: JSONValue(parsing: Data(contentsOf: sidecarURL)), path: sidecarURL.path)
        #expect(sidecar.tensorTypes.count == 5 && sidecar.tensorTypes.allSatisfy { $0.type == .bf16 })
        let backReport = try CheckpointConverter.convert(from: hf, to: back)
        #expect(backReport.casts.isEmpty)
        #expect(try Data(contentsOf: old) == Data(contentsOf: back))

        // With a dtype the sidecar's types give way to llama.cpp's rule, and GGUF → GGUF fixes old files.
        let f32 = try CheckpointConverter.convert(from: hf, to: temp.path("f32.gguf"), options: .init(dtype: .f32))
        #expect(f32.casts.count == 20 && f32.casts.allSatisfy { $0.to == "F32" && $0.lossless })
        let fixed = try CheckpointConverter.convert(from: old, to: temp.path("fixed.gguf"), options: .init(dtype: .bf16))
        #expect(fixed.casts.map(\.to) == Array(repeating: "F32", count: 5))
        #expect(try GGUFFile(contentsOf: temp.path("fixed.gguf")).tensors.allSatisfy {
            $0.dimensions.count > 1 ? $0.type == .bf16 : $0.type == .f32
        })

        // A sidecar naming a tensor that is not 1-D, or a type safetensors cannot hold, is an error.
        for (tensor, type) in [("model.embed_tokens.weight", "\"BF16\""), ("model.norm.weight", "\"Q8_0\"")] {
            let bad = temp.path("bad-\(tensor)")
            try FileManager.default.copyItem(at: hf, to: bad)
            let url = bad.appendingPathComponent(GGUFSidecar.fileName)
            let text = try String(contentsOf: url, encoding: .utf8)
            let edited = text.replacingOccurrences(of: "\"model.norm.weight\": \"BF16\"", with: "\"\(tensor)\": \(type)")
            #expect(edited != text)
            try edited.write(to: url, atomically: true, encoding: .utf8)
            #expect(throws: CheckpointError.invalidField(
                path: url.path, key: "tensor_types.\(tensor)",
                expected: tensor == "model.norm.weight" ? "\"F32\", \"F16\" or \"BF16\"" : "a 1-D tensor of the checkpoint")) {
                try CheckpointConverter.convert(from: bad, to: temp.path("bad.gguf"))
            }
        }
    }

    @Test("missing tensors, wrong shapes and unsupported architectures fail before any output")
    func badCheckpoints() throws {
        let temp = try TemporaryDirectory()
        let missing = try temp.copyFixture("tiny-llama")
        try rewriteWeights(in: missing) { $0 == "model.layers.1.mlp.down_proj.weight" ? nil : $1 }
        #expect(throws: CheckpointError.missingTensors(
            path: missing.path, names: ["model.layers.1.mlp.down_proj.weight"])) {
            try CheckpointConverter.convert(from: missing, to: temp.path("m.gguf"))
        }

        let unsupported = try temp.copyFixture("tiny-llama-f16")
        let configURL = unsupported.appendingPathComponent("config.json")
        let text = try String(contentsOf: configURL, encoding: .utf8)
        try text.replacingOccurrences(of: "\"llama\"", with: "\"gemma\"").write(to: configURL, atomically: true, encoding: .utf8)
        #expect(throws: CheckpointError.unsupportedArchitecture(
            path: configURL.path, found: "gemma", supported: LlamaHyperparameters.supportedModelTypes)) {
            try CheckpointConverter.convert(from: unsupported, to: temp.path("u.gguf"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: temp.url.path).sorted() == ["tiny-llama", "tiny-llama-f16"])
    }

    @Test("an existing output is kept unless overwrite is set")
    func refusesToOverwrite() throws {
        let temp = try TemporaryDirectory()
        let out = temp.path("m.gguf")
        try Data("keep".utf8).write(to: out)
        let source = fixturesDirectory.appendingPathComponent("tiny-llama")
        #expect(throws: CheckpointError.outputExists(path: out.path)) {
            try CheckpointConverter.convert(from: source, to: out)
        }
        #expect(try Data(contentsOf: out) == Data("keep".utf8))
        _ = try CheckpointConverter.convert(from: source, to: out, options: .init(overwrite: true))
        #expect(try GGUFFile(contentsOf: out).tensors.count == 20)
    }

    @Test("inspect reads the fixture's headers: architecture, tokenizer and totals")
    func inspection() throws {
        let inspection = try CheckpointInspection(path: fixturesDirectory.appendingPathComponent("tiny-llama"))
        #expect(inspection.format == "hf-directory" && inspection.architecture == "llama")
        #expect(inspection.tensors.count == 20)
        #expect(inspection.tokenizer?.contains("pre-tokenizer smollm") == true)
        #expect(inspection.totalBytes == inspection.totalElements * 2)
    }

    // MARK: - Helpers

    /// Rewrites a GGUF with new metadata, optionally quantizing one tensor to Q8_0.
    private func rewrite(_ file: GGUFFile, to url: URL, metadata: GGUFMetadata, quantize: String? = nil) throws {
        try rewrite(file, to: url, metadata: metadata) { name, _ in name == quantize ? .q8_0 : nil }
    }

    /// Rewrites a GGUF with new metadata; `change` may edit a tensor's values (decoded to float32) and returns
    /// a new type for it, or nil to keep its type. Unchanged tensors are copied byte for byte.
    private func rewrite(
        _ file: GGUFFile, to url: URL, metadata: GGUFMetadata, change: (String, inout [Float]) -> GGMLType?
    ) throws {
        var changed: [String: (GGMLType, [Float])] = [:]
        for info in file.tensors {
            let type = try #require(info.type)
            var values = [Float](repeating: 0, count: info.dimensions.reduce(1, *))
            try values.withUnsafeMutableBufferPointer { try GGMLCodec.dequantize(file.bytes(of: info), as: type, into: $0) }
            let original = values
            let newType = change(info.name, &values) ?? type
            if newType != type || values.map(\.bitPattern) != original.map(\.bitPattern) {
                changed[info.name] = (newType, values)
            }
        }
        let entries = file.tensors.map { info in
            GGUFWriter.Entry(name: info.name, dimensions: info.dimensions, type: changed[info.name]?.0 ?? info.type ?? .f32)
        }
        try GGUFWriter.write(to: url, metadata: metadata, tensors: entries) { entry, stream in
            let info = try #require(file[entry.name])
            guard let (type, values) = changed[entry.name] else { return try stream.write(file.bytes(of: info)) }
            var out = [UInt8](repeating: 0, count: try #require(entry.byteCount))
            try values.withUnsafeBufferPointer { source in
                try out.withUnsafeMutableBytes { try GGMLCodec.quantize(source, as: type, into: $0) }
            }
            try stream.write(out)
        }
    }

    /// Rewrites model.safetensors of a directory, dropping or replacing tensors.
    private func rewriteWeights(
        in directory: URL, _ change: (String, SafeTensorsWriter.Entry) -> SafeTensorsWriter.Entry?
    ) throws {
        let url = directory.appendingPathComponent("model.safetensors")
        let original = try SafeTensorsFile(contentsOf: url)
        let entries = original.tensors.compactMap {
            change($0.name, SafeTensorsWriter.Entry(name: $0.name, dtype: $0.dtype, shape: $0.shape))
        }
        let rewritten = directory.appendingPathComponent("new.safetensors")
        try SafeTensorsWriter.write(to: rewritten, tensors: entries) { entry, stream in
            try stream.write(original.bytes(of: try #require(original[entry.name])))
        }
        try FileManager.default.removeItem(at: url)
        try FileManager.default.moveItem(at: rewritten, to: url)
    }
}
