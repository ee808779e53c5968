// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import Quantization
import QuailKit
import SafeTensors
import TensorCore
import Testing

@Suite("quail quantize recipe (GGUF output)")
struct QuantizeRecipeTests {
    private func types(_ report: QuantizationReport) -> [String: String] {
        Dictionary(uniqueKeysWithValues: report.tensors.map { ($0.name, $0.target.name) })
    }

    @Test("q4_0 default: linear weights q4_0, 1-D F32, untied token_embd q4_0, output q6_k falling back to q8_0")
    func legacyDefaults() throws {
        let temp = try TemporaryDirectory()
        let report = try runQuantize(
            fixturesDirectory.appendingPathComponent("tiny-llama-untied"), temp.path("a.gguf"), type: "q4_0",
            dryRun: true)
        let byName = types(report)
        #expect(byName["blk.0.attn_q.weight"] == "q4_0" && byName["blk.1.ffn_down.weight"] == "q4_0")
        #expect(byName["blk.0.attn_norm.weight"] == "f32" && byName["output_norm.weight"] == "f32")
        #expect(byName["token_embd.weight"] == "q4_0")
        let output = try #require(report.tensors.first { $0.name == "output.weight" })
        #expect(output.requested == .ggml(.q6_K) && output.target == .ggml(.q8_0))
        #expect(output.fallback?.contains("not a multiple of 256") == true)
        #expect(!FileManager.default.fileExists(atPath: temp.path("a.gguf").path))
    }

    @Test("a tied token embedding gets the output rule; q8_0 keeps q8_0 there; float types skip the rule")
    func outputRule() throws {
        let temp = try TemporaryDirectory()
        let tied = fixturesDirectory.appendingPathComponent("tiny-llama")
        let q4 = try runQuantize(tied, temp.path("a.gguf"), type: "q4_0", dryRun: true)
        #expect(types(q4)["token_embd.weight"] == "q8_0")
        #expect(q4.tensors.first { $0.name == "token_embd.weight" }?.requested == .ggml(.q6_K))
        let q8 = try runQuantize(tied, temp.path("b.gguf"), type: "q8_0", dryRun: true)
        #expect(types(q8)["token_embd.weight"] == "q8_0" && q8.fallbacks.isEmpty)
        let f16 = try runQuantize(tied, temp.path("c.gguf"), type: "f16", dryRun: true)
        #expect(types(f16)["token_embd.weight"] == "f16" && types(f16)["blk.0.ffn_norm.weight"] == "f32")
    }

    @Test("k-quant fallbacks follow llama.cpp's table; 32-element types fall back to F16 on odd rows")
    func fallbackTable() throws {
        let temp = try TemporaryDirectory()
        let model = fixturesDirectory.appendingPathComponent("tiny-llama")
        for (type, fallback) in [("q2_k", "q4_0"), ("q3_k", "q4_0"), ("q4_k", "q5_0"), ("q5_k", "q5_1"), ("q6_k", "q8_0")] {
            let report = try runQuantize(model, temp.path("\(type).gguf"), type: type, dryRun: true)
            #expect(types(report)["blk.0.attn_q.weight"] == fallback, "\(type)")
            #expect(types(report)["token_embd.weight"] == "q8_0")
            #expect(report.fallbacks.count == 14, "\(type): the 14 linear weights; token_embd takes q8_0 by the output rule")
        }
        let odd = try makeSyntheticCheckpoint(in: temp, hidden: 48)
        let q4 = try runQuantize(odd, temp.path("odd.gguf"), type: "q4_0", dryRun: true)
        #expect(types(q4)["blk.0.attn_q.weight"] == "f16")
        #expect(types(q4)["blk.0.ffn_down.weight"] == "q4_0", "rows of 96 fit Q4_0")
        let iq4 = try runQuantize(odd, temp.path("iq4.gguf"), type: "iq4_nl", dryRun: true)
        #expect(types(iq4)["blk.0.ffn_gate.weight"] == "f16")
        #expect(types(iq4)["output.weight"] == "q8_0" || types(iq4)["output.weight"] == "f16")
    }

    @Test("--type-for beats --keep beats the default; first --type-for wins; HF and GGUF names both match")
    func precedence() throws {
        let temp = try TemporaryDirectory()
        let report = try runQuantize(
            fixturesDirectory.appendingPathComponent("tiny-llama"), temp.path("a.gguf"), type: "q4_0",
            keep: ["attn_", "token_embd"], typeFor: ["q_proj=q8_0", "attn_q=q5_1", "blk\\.1\\.attn_k=f16"],
            dryRun: true)
        let byName = types(report)
        #expect(byName["blk.0.attn_q.weight"] == "q8_0")
        #expect(byName["blk.1.attn_k.weight"] == "f16")
        #expect(byName["blk.0.attn_k.weight"] == "bf16" && byName["blk.0.attn_norm.weight"] == "bf16")
        #expect(byName["token_embd.weight"] == "bf16")
        #expect(byName["blk.0.ffn_up.weight"] == "q4_0")
        #expect(report.tensors.first { $0.name == "blk.0.attn_q.weight" }?.rule == "--type-for q_proj")
    }

    @Test("a block type forced onto a 1-D tensor falls back to F32")
    func oneDimensional() throws {
        let temp = try TemporaryDirectory()
        let report = try runQuantize(
            fixturesDirectory.appendingPathComponent("tiny-llama"), temp.path("a.gguf"), type: "q8_0",
            typeFor: [".*=q8_0"], dryRun: true)
        let norm = try #require(report.tensors.first { $0.name == "output_norm.weight" })
        #expect(norm.requested == .ggml(.q8_0) && norm.target == .ggml(.f32) && norm.fallback != nil)
        #expect(types(report)["token_embd.weight"] == "q8_0")
    }

    @Test("--strict refuses fallbacks, names every tensor, and writes nothing")
    func strict() throws {
        let temp = try TemporaryDirectory()
        let destination = temp.path("a.gguf")
        do {
            try runQuantize(
                fixturesDirectory.appendingPathComponent("tiny-llama"), destination, type: "q4_k", strict: true)
            Issue.record("expected a strict-mode error")
        } catch let error as CheckpointError {
            guard case .fallbackRefused(let path, let tensors) = error else { throw error }
            #expect(path.hasSuffix("tiny-llama") && tensors.count == 14)
            #expect(tensors.contains { $0.hasPrefix("blk.1.ffn_down.weight (q4_k -> q5_0") })
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: temp.url.path).isEmpty)
    }

    @Test("the dry run's byte counts are the written tensor sizes, and the summary adds them up")
    func dryRunMatchesOutput() throws {
        let temp = try TemporaryDirectory()
        let model = fixturesDirectory.appendingPathComponent("tiny-llama-untied")
        let plan = try runQuantize(model, temp.path("a.gguf"), type: "q5_1", dryRun: true)
        let real = try runQuantize(model, temp.path("a.gguf"), type: "q5_1")
        #expect(plan.tensors == real.tensors)
        let file = try GGUFFile(contentsOf: temp.path("a.gguf"))
        #expect(file.tensors.map(\.name) == plan.tensors.map(\.name))
        #expect(file.tensors.map { $0.byteCount ?? -1 } == plan.tensors.map(\.byteCount))
        #expect(file.tensors.map { $0.type?.name.lowercased() ?? "" } == plan.tensors.map(\.target.name))
        let elements = plan.tensors.reduce(0) { $0 + $1.elementCount }
        #expect(abs(plan.actualBitsPerWeight - Double(plan.totalByteCount * 8) / Double(elements)) < 1e-12)
        #expect(plan.nominalBitsPerWeight == 6.0)
    }

    @Test("GGUF metadata: file_type from the requested type, quantization_version 2, the rest as convert writes it")
    func metadata() throws {
        let temp = try TemporaryDirectory()
        let model = fixturesDirectory.appendingPathComponent("tiny-llama")
        try runQuantize(model, temp.path("q.gguf"), type: "q4_k")
        _ = try CheckpointConverter.convert(from: model, to: temp.path("plain.gguf"))
        let quantized = try GGUFFile(contentsOf: temp.path("q.gguf"))
        let plain = try GGUFFile(contentsOf: temp.path("plain.gguf"))
        #expect(quantized.metadata["general.file_type"] == .uint32(LlamaFileType.mostlyQ4_K_M.rawValue))
        #expect(quantized.metadata["general.quantization_version"] == .uint32(2))
        for (key, value) in plain.metadata.entries where key != "general.file_type" {
            #expect(quantized.metadata[key] == value, "\(key)")
        }
    }

    @Test("HF → Q4_0 GGUF equals HF → F32 GGUF → Q4_0 GGUF byte for byte (the Q/K permutation precedes quantization)")
    func directAndTwoStepAgree() throws {
        let temp = try TemporaryDirectory()
        let model = fixturesDirectory.appendingPathComponent("tiny-llama")
        try runQuantize(model, temp.path("direct.gguf"), type: "q4_0")
        _ = try CheckpointConverter.convert(from: model, to: temp.path("f32.gguf"), options: .init(dtype: .f32))
        try runQuantize(temp.path("f32.gguf"), temp.path("two-step.gguf"), type: "q4_0")
        #expect(try Data(contentsOf: temp.path("direct.gguf")) == Data(contentsOf: temp.path("two-step.gguf")))
        // The same run twice gives the same bytes.
        try runQuantize(model, temp.path("again.gguf"), type: "q4_0")
        #expect(try Data(contentsOf: temp.path("direct.gguf")) == Data(contentsOf: temp.path("again.gguf")))
    }

    @Test("each quantized tensor equals GGMLCodec.quantize of the source values")
    func tensorsMatchCodec() throws {
        let temp = try TemporaryDirectory()
        let source = try makeSyntheticCheckpoint(in: temp, hidden: 64, intermediate: 256)
        try runQuantize(source, temp.path("q.gguf"), type: "q8_0", typeFor: [".*=q8_0"])
        _ = try CheckpointConverter.convert(from: source, to: temp.path("f32.gguf"))
        let f32 = try GGUFFile(contentsOf: temp.path("f32.gguf"))
        let q = try GGUFFile(contentsOf: temp.path("q.gguf"))
        for info in q.tensors where info.dimensions.count == 2 {
            let plain = try #require(f32[info.name])
            let values = Array(try f32.bytes(of: plain).bindMemory(to: Float.self))
            var expected = [UInt8](repeating: 0, count: try #require(info.byteCount))
            try values.withUnsafeBufferPointer { input in
                try expected.withUnsafeMutableBytes { try GGMLCodec.quantize(input, as: .q8_0, into: $0) }
            }
            #expect(Array(try q.bytes(of: info)) == expected, "\(info.name)")
        }
    }

    @Test("bad options: unknown type, bitsandbytes type to GGUF, block type to HF, bad block size, bad regex")
    func badOptions() throws {
        let temp = try TemporaryDirectory()
        let model = fixturesDirectory.appendingPathComponent("tiny-llama")
        func invalidOption(_ body: () throws -> Void) -> String? {
            do {
                try body()
            } catch CheckpointError.invalidOption(_, let option, _, _) {
                return option
            } catch {
                Issue.record("unexpected error \(error)")
            }
            return nil
        }
        #expect(invalidOption { try runQuantize(model, temp.path("a.gguf"), type: "q4_z") } == "--type")
        #expect(invalidOption { try runQuantize(model, temp.path("a.gguf"), type: "q8_1") } == "--type")
        #expect(invalidOption { try runQuantize(model, temp.path("a.gguf"), type: "nf4") } == "--type")
        #expect(invalidOption { try runQuantize(model, temp.path("hf"), type: "q4_0") } == "--type")
        #expect(invalidOption { try runQuantize(model, temp.path("hf"), type: "f16") } == "--type")
        #expect(invalidOption { try runQuantize(model, temp.path("hf"), type: "nf4", blockSize: 48) } == "--blocksize")
        #expect(invalidOption { try runQuantize(model, temp.path("hf"), type: "nf4", blockSize: 8192) } == "--blocksize")
        #expect(invalidOption { try runQuantize(model, temp.path("hf"), type: "nf4", typeFor: ["q_proj=fp4"]) } == "--type-for")
        #expect(invalidOption { try runQuantize(model, temp.path("hf"), type: "nf4", typeFor: ["q_proj=q4_0"]) } == "--type-for")
        #expect(invalidOption { try runQuantize(model, temp.path("a.gguf"), type: "q4_0", typeFor: ["q_proj"]) } == "--type-for")
        #expect(invalidOption { try runQuantize(model, temp.path("a.gguf"), type: "q4_0", keep: ["(unclosed"]) } == "--keep")
        #expect(try FileManager.default.contentsOfDirectory(atPath: temp.url.path).isEmpty)
    }

    @Test("NaN weights fail naming the tensor and leave nothing behind, for GGUF and HF outputs")
    func nonFinite() throws {
        let temp = try TemporaryDirectory()
        let poisoned = "model.layers.0.mlp.up_proj.weight"
        let source = try makeSyntheticCheckpoint(in: temp, hidden: 64, poison: poisoned)
        for (destination, type, name) in [("a.gguf", "q4_0", "blk.0.ffn_up.weight"), ("hf", "nf4", poisoned), ("hf8", "int8", poisoned)] {
            do {
                try runQuantize(source, temp.path(destination), type: type)
                Issue.record("expected an error for \(type)")
            } catch CheckpointError.cannotQuantize(let path, let tensor, let reason) {
                #expect(path == source.path && tensor == name, "\(type)")
                #expect(reason.contains("NaN"), "\(reason)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: temp.url.path) == ["synthetic"])
        }
        // Kept as F16, a NaN is just a value.
        try runQuantize(source, temp.path("b.gguf"), type: "q4_0", keep: ["ffn_up"])
    }

    @Test("an existing output is kept unless overwriting is allowed")
    func existingOutput() throws {
        let temp = try TemporaryDirectory()
        let destination = temp.path("a.gguf")
        try Data("keep me".utf8).write(to: destination)
        #expect(throws: CheckpointError.outputExists(path: destination.path)) {
            try runQuantize(fixturesDirectory.appendingPathComponent("tiny-llama"), destination, type: "q8_0")
        }
        #expect(try Data(contentsOf: destination) == Data("keep me".utf8))
    }
}
