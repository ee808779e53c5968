// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import SafeTensors
import TensorCore

extension CheckpointConverter {
    /// GGUF file → HF directory.
    static func ggufToHF(
        _ file: GGUFFile, _ destination: URL, _ options: Options, _ progress: any ProgressReporting
    ) throws -> ConversionReport {
        let path = file.url.path
        let hparams = try LlamaHyperparameters(
            metadata: file.metadata, hasOutputTensor: file["output.weight"] != nil, path: path)
        let tokenizer = try BPETokenizerMetadata(metadata: file.metadata, path: path)
        let plan = vectorsInModelType(try ggufPlan(file, hparams: hparams, options: options, direction: .ggufToHF))
        let quantized = plan.filter { TensorEncoding.dtype(for: $0.outputType) == nil }
        guard quantized.isEmpty else {
            throw CheckpointError.needsDType(
                path: path, tensors: quantized.map(\.hfName),
                reason: "safetensors cannot hold ggml block types losslessly")
        }
        let sideFiles = try hfSideFiles(
            for: file, hparams: hparams, tokenizer: tokenizer, plan: plan, lossless: options.dtype == nil)
        let output = try AtomicOutput(destination: destination, isDirectory: true, overwrite: options.overwrite)
        let directory = output.temporaryURL
        for (name, json) in sideFiles.files { try writeJSON(json, to: directory.appendingPathComponent(name)) }
        let natural = LlamaTensorNames.naturallySorted(plan.map(\.hfName))
        let byName = Dictionary(uniqueKeysWithValues: plan.map { ($0.hfName, $0) })
        let entries = natural.compactMap { name in
            byName[name].flatMap { tensor in
                TensorEncoding.dtype(for: tensor.outputType).map {
                    SafeTensorsWriter.Entry(name: name, dtype: $0, shape: tensor.shape)
                }
            }
        }
        var done = 0
        _ = try SafeTensorsWriter.writeSharded(
            into: directory, tensors: entries, maxShardByteCount: options.maxShardByteCount
        ) { entry, stream in
            guard let tensor = byName[entry.name] else { return }
            try tensor.write(to: stream)
            done += 1
            progress.update(completed: done, total: entries.count, label: entry.name)
        }
        progress.finish()
        try output.commit()
        return report(plan, source: file.url, destination: destination, notes: sideFiles.notes)
    }

    /// The JSON side files of an HF directory written from `file` with tensors `plan`, config.json first:
    /// config.json, generation_config.json, tokenizer.json, tokenizer_config.json and, when the HF files
    /// cannot say everything the GGUF metadata says, the ``GGUFSidecar``. When `lossless` (no dtype asked),
    /// the sidecar also keeps the type of 1-D tensors that HF → GGUF would not write back as they were
    /// (anything but F32).
    static func hfSideFiles(
        for file: GGUFFile, hparams: LlamaHyperparameters, tokenizer: BPETokenizerMetadata, plan: [PlannedTensor],
        lossless: Bool
    ) throws -> HFSideFiles {
        let path = file.url.path
        let config = hparams.configJSON(torchDType: torchDTypeName(of: plan))
        let tokenizerJSON = tokenizer.tokenizerJSON()
        let tokenizerConfig = tokenizer.tokenizerConfigJSON(contextLength: hparams.contextLength)

        // Derive what HF → GGUF would write back from exactly these files, and keep the difference.
        let rederivedHParams = try LlamaHyperparameters(configJSON: config, path: path)
        let rederivedTokenizer = try BPETokenizerMetadata(
            tokenizer: tokenizerJSON, tokenizerPath: path, config: tokenizerConfig, hparams: rederivedHParams)
        let derived = derivedMetadata(hparams: rederivedHParams, tokenizer: rederivedTokenizer, plan: plan)
        let sidecar = GGUFSidecar.residual(
            original: file.metadata, derived: derived, originalTensorOrder: plan.map(\.hfName),
            naturalTensorOrder: LlamaTensorNames.naturallySorted(plan.map(\.hfName)),
            tensorTypes: lossless ? plan.filter { $0.shape.count < 2 && $0.sourceType != .f32 }.map { ($0.hfName, $0.sourceType) } : [])
        var files: [(name: String, json: JSONValue)] = [
            ("config.json", config), ("generation_config.json", generationConfig(hparams)),
            ("tokenizer.json", tokenizerJSON), ("tokenizer_config.json", tokenizerConfig),
        ]
        if let sidecar { files.append((GGUFSidecar.fileName, sidecar.jsonRepresentation)) }
        return HFSideFiles(files: files, sidecar: sidecar)
    }

    /// The JSON side files of an HF directory written from a GGUF file.
    struct HFSideFiles {
        /// File name and content, config.json first.
        var files: [(name: String, json: JSONValue)]
        /// The sidecar among ``files``, if one is needed.
        let sidecar: GGUFSidecar?

        /// The report note about the sidecar.
        var notes: [String] {
            guard let sidecar else { return [] }
            return ["kept \(sidecar.overrides.count) GGUF key(s) HF files cannot express in \(GGUFSidecar.fileName)"]
        }
    }

    /// The plan with each 1-D tensor written in the model's 2-D type (F16 or BF16) when its values survive that
    /// type bit for bit: transformers checkpoints store norm weights in the model dtype, and GGUF files hold
    /// them as F32 (llama.cpp's converter widens them), so this restores the HF checkpoint's type.
    static func vectorsInModelType(_ plan: [PlannedTensor]) -> [PlannedTensor] {
        guard let model = dominantMatrixType(of: plan), model == .f16 || model == .bf16 else { return plan }
        return plan.map { tensor in
            guard tensor.shape.count < 2, tensor.outputType != model, tensor.survivesRoundTrip(through: model) else {
                return tensor
            }
            return tensor.retyped(model, valuesCheckedExact: true)
        }
    }

    /// Plans every tensor of a GGUF llama file, checking names and shapes against the hyperparameters; with a
    /// dtype, 1-D tensors are planned as F32.
    static func ggufPlan(
        _ file: GGUFFile, hparams: LlamaHyperparameters, options: Options, direction: QKPermutation.Direction?
    ) throws -> [PlannedTensor] {
        let path = file.url.path
        var plan: [PlannedTensor] = []
        var unknown: [String] = []
        for info in file.tensors {
            if info.name == LlamaTensorNames.ropeFrequencies {
                // Read into the hyperparameters by the runtime; a conversion cannot carry it.
                guard hparams.ropeFrequencyFactors != nil else {
                    throw CheckpointError.unsupportedArchitecture(
                        path: path, found: "\(hparams.ggufArchitecture) with \(info.name) (per-frequency RoPE factors)",
                        supported: ["quail eval and calibrate for such files; convert, quantize and init without them"])
                }
                continue
            }
            guard let hfName = LlamaTensorNames.hfName(forGGUF: info.name), let role = LlamaTensorNames.role(ofHF: hfName)
            else {
                unknown.append(info.name)
                continue
            }
            guard let type = info.type else {
                throw CheckpointError.unexpectedTensors(path: path, names: ["\(info.name) (type id \(info.typeID))"])
            }
            let shape = Array(info.dimensions.reversed())
            let expected = LlamaTensorNames.expectedShape(of: role.role, for: hparams)
            guard shape == expected else {
                throw CheckpointError.shapeMismatch(path: path, tensor: info.name, expected: expected, actual: shape)
            }
            plan.append(PlannedTensor(
                hfName: hfName, outputName: direction == nil ? info.name : hfName, shape: shape, sourceType: type,
                outputType: outputType(source: type, shape: shape, options: options, vectorsAsF32: options.dtype != nil),
                sourceBytes: try file.bytes(of: info),
                permutation: direction.flatMap { d in hparams.permutationHeads(forHF: hfName).map { ($0, d) } }))
        }
        guard unknown.isEmpty else { throw CheckpointError.unexpectedTensors(path: path, names: unknown) }
        let expected = Set(LlamaTensorNames.expectedHFNames(for: hparams))
        let missing = expected.subtracting(plan.map(\.hfName)).sorted()
        guard missing.isEmpty else {
            throw CheckpointError.missingTensors(path: path, names: missing.compactMap(LlamaTensorNames.ggufName(forHF:)))
        }
        return plan
    }

    private static func torchDTypeName(of plan: [PlannedTensor]) -> String {
        switch dominantMatrixType(of: plan) {
        case .bf16: return "bfloat16"
        case .f16: return "float16"
        default: return "float32"
        }
    }

    private static func generationConfig(_ hparams: LlamaHyperparameters) -> JSONValue {
        var pairs: [(String, JSONValue)] = [("_from_model_config", .bool(true))]
        if let bos = hparams.bosTokenID { pairs.append(("bos_token_id", .integer(bos))) }
        if let eos = hparams.eosTokenID { pairs.append(("eos_token_id", .integer(eos))) }
        return .object(pairs)
    }

    /// Writes a JSON file with two-space indentation and a final newline.
    static func writeJSON(_ value: JSONValue, to url: URL) throws {
        let text = value.text(indent: 2) + "\n"
        guard FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8)) else {
            throw FileAccessError(path: url.path, operation: "create", code: errno)
        }
    }
}
