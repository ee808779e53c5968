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
        #expect(report.casts.isEmpty)
        _ = try CheckpointConverter.convert(from: first, to: hf)
        _ = try CheckpointConverter.convert(from: hf, to: second)
        #expect(try Data(contentsOf: first) == Data(contentsOf: second))
        #expect(!FileManager.default.fileExists(atPath: hf.appendingPathComponent(GGUFSidecar.fileName).path))

        let original = try SafeTensorsCheckpoint(directory: source)
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

    /// Rewrites a GGUF with new metadata, optionally quantizing one F32 tensor to Q8_0.
    private func rewrite(_ file: GGUFFile, to url: URL, metadata: GGUFMetadata, quantize: String? = nil) throws {
        let entries = file.tensors.map { info in
            GGUFWriter.Entry(
                name: info.name, dimensions: info.dimensions, type: info.name == quantize ? .q8_0 : (info.type ?? .f32))
        }
        try GGUFWriter.write(to: url, metadata: metadata, tensors: entries) { entry, stream in
            let info = try #require(file[entry.name])
            let bytes = try file.bytes(of: info)
            guard entry.type != info.type else { return try stream.write(bytes) }
            let floats = Array(bytes.bindMemory(to: Float.self))
            var out = [UInt8](repeating: 0, count: try #require(entry.byteCount))
            try floats.withUnsafeBufferPointer { source in
                try out.withUnsafeMutableBytes { try GGMLCodec.quantize(source, as: .q8_0, into: $0) }
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
