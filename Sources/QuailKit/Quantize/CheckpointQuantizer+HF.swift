// SPDX-License-Identifier: Apache-2.0
import Foundation
import Quantization
import SafeTensors
import TensorCore

extension CheckpointQuantizer {
    /// Writes an HF directory with bitsandbytes-quantized Linear weights, in two streaming passes.
    ///
    /// safetensors stores tensors sorted by dtype, so a Linear's packed weight (U8) and its absmax (F32) sit
    /// far apart in the file. Pass 1 quantizes one tensor at a time and appends every stored part to a scratch
    /// file inside the output's temporary directory; pass 2 lays the parts out in safetensors order, copying
    /// from the mapped scratch file. Peak memory stays about one tensor; the scratch file is deleted before
    /// the directory is renamed into place.
    ///
    /// - Returns: the decisions with exact stored byte counts.
    static func writeHF(
        _ job: QuantizationJob, decisions: [TensorQuantization], target: QuantizationTarget, to destination: URL,
        options: Options, progress: any ProgressReporting, clock: EncodingClock
    ) throws -> [TensorQuantization] {
        let tensors = job.tensors
        let modelDType = dominantFloatDType(tensors)
        let keptLinears = zip(tensors, decisions).compactMap { tensor, decision -> String? in
            guard let role = LlamaTensorNames.role(ofHF: tensor.hfName)?.role, CompiledRecipe.linearRoles.contains(role),
                !decision.target.isBitsAndBytes
            else { return nil }
            return modulePrefix(of: tensor.hfName)
        }
        let block = BitsAndBytesSerialization.configBlock(
            for: target, computeDType: BitsAndBytesSerialization.torchName(of: modelDType),
            skipModules: keptLinears.isEmpty ? nil : ["lm_head"] + keptLinears)

        var sideFiles: [(name: String, json: JSONValue)]
        var copies: [URL] = []
        let sourcePath: String
        switch job {
        case .hfToHF(let checkpoint, _):
            sourcePath = checkpoint.directory.path
            var config = checkpoint.config
            if config["rope_theta"] == nil {
                config = adding(
                    "rope_theta", .number(LlamaHyperparameters.shortestDouble(checkpoint.hyperparameters.ropeTheta)),
                    to: config)
            }
            sideFiles = [("config.json", config)]
            copies = try sideFileCopies(in: checkpoint.directory)
        case .ggufToHF(let file, let hparams, let plan):
            sourcePath = file.url.path
            let tokenizer = try BPETokenizerMetadata(metadata: file.metadata, path: file.url.path)
            sideFiles = try CheckpointConverter.hfSideFiles(
                for: file, hparams: hparams, tokenizer: tokenizer, plan: plan, lossless: false
            ).files
        default:
            preconditionFailure("writeHF needs an HF output")
        }
        if let index = sideFiles.firstIndex(where: { $0.name == "config.json" }) {
            var config = adding(
                "torch_dtype", .string(BitsAndBytesSerialization.torchName(of: modelDType)), to: sideFiles[index].json)
            config = adding("quantization_config", block, to: config)
            sideFiles[index].json = config
        }

        let output = try AtomicOutput(destination: destination, isDirectory: true, overwrite: options.overwrite)
        let directory = output.temporaryURL
        let scratchURL = directory.appendingPathComponent(".quail-quantize-scratch")
        let scratch = try FileOutputStream(url: scratchURL)
        var entries: [SafeTensorsWriter.Entry] = []
        var ranges: [String: Range<Int>] = [:]
        var rows = decisions
        for (index, (tensor, decision)) in zip(tensors, decisions).enumerated() {
            let start = scratch.position
            for (name, dtype, shape, bytes) in try storedParts(
                of: tensor, as: decision.target, source: sourcePath, clock: clock)
            {
                let partStart = scratch.position
                switch bytes {
                case .data(let data): try scratch.write(data)
                case .planned(let planned): try planned.write(to: scratch, clock: clock)
                }
                entries.append(SafeTensorsWriter.Entry(name: name, dtype: dtype, shape: shape))
                ranges[name] = partStart..<scratch.position
            }
            rows[index].byteCount = scratch.position - start
            progress.update(completed: index + 1, total: tensors.count, label: tensor.hfName)
        }
        try scratch.flush()
        let mapped = try MappedFile(url: scratchURL)
        _ = try SafeTensorsWriter.writeSharded(
            into: directory, tensors: entries, maxShardByteCount: options.maxShardByteCount
        ) { entry, stream in
            guard let range = ranges[entry.name] else { return }
            try stream.write(UnsafeRawBufferPointer(rebasing: mapped.bytes[range]))
        }
        progress.finish()
        try FileManager.default.removeItem(at: scratchURL)
        for (name, json) in sideFiles {
            try CheckpointConverter.writeJSON(json, to: directory.appendingPathComponent(name))
        }
        for file in copies {
            try FileManager.default.copyItem(at: file, to: directory.appendingPathComponent(file.lastPathComponent))
        }
        try output.commit()
        return rows
    }

    /// Where a stored part's bytes come from.
    private enum PartBytes {
        /// Computed bytes.
        case data([UInt8])
        /// A float tensor streamed by its plan.
        case planned(PlannedTensor)
    }

    /// The stored tensors (key, dtype, shape, bytes) for one source tensor and its target.
    private static func storedParts(
        of tensor: PlannedTensor, as target: QuantizationTarget, source: String, clock: EncodingClock
    ) throws -> [(String, DType, [Int], PartBytes)] {
        func fail(_ error: CustomStringConvertible) -> CheckpointError {
            .cannotQuantize(path: source, tensor: tensor.hfName, reason: error.description)
        }
        if case .ggml(let type) = target, let dtype = TensorEncoding.dtype(for: type) {
            return [(tensor.outputName, dtype, tensor.shape, .planned(tensor.retyped(type)))]
        }
        let values: [Float]
        do {
            values = try tensor.floatValues()
        } catch {
            throw fail(error)
        }
        let quantized = try values.withUnsafeBufferPointer { input in
            Result { () throws(CheckpointError) in
                try clock.measure { () throws(CheckpointError) in
                    try QuantizedTensor(
                        quantizing: input, shape: tensor.shape, as: target, path: source, tensor: tensor.hfName)
                }
            }
        }.get()
        let parts: [(part: BitsAndBytesSerialization.Part, bytes: [UInt8])]
        switch quantized {
        case .bitsAndBytes4Bit(let fourBit):
            do {
                parts = try BitsAndBytesSerialization.encode(fourBit, dtype: storedFloatDType(of: tensor.sourceType))
            } catch {
                throw fail(error)
            }
        case .bitsAndBytesInt8(let int8):
            parts = BitsAndBytesSerialization.encode(int8)
        case .ggml(let type, _):
            throw CheckpointError.cannotQuantize(
                path: source, tensor: tensor.hfName, reason: "\(type.name) cannot be stored in safetensors")
        }
        let prefix = modulePrefix(of: tensor.hfName)
        return parts.map { ("\(prefix).\($0.part.suffix)", $0.part.dtype, $0.part.shape, .data($0.bytes)) }
    }

    /// `model.layers.0.mlp.up_proj` for `model.layers.0.mlp.up_proj.weight`.
    static func modulePrefix(of weightName: String) -> String {
        weightName.hasSuffix(".weight") ? String(weightName.dropLast(".weight".count)) : weightName
    }

    /// The safetensors dtype a source type is kept in: itself for F32/F16/BF16, F32 for ggml block types.
    static func storedFloatDType(of type: GGMLType) -> DType {
        TensorEncoding.dtype(for: type) ?? .f32
    }

    /// The most common stored float dtype among 2-D tensors (ties go to F32, then BF16): the model dtype
    /// written as `torch_dtype` and `bnb_4bit_compute_dtype`.
    static func dominantFloatDType(_ tensors: [PlannedTensor]) -> DType {
        var counts: [DType: Int] = [:]
        for tensor in tensors where tensor.shape.count >= 2 {
            counts[storedFloatDType(of: tensor.sourceType), default: 0] += 1
        }
        var best = DType.f32
        for dtype in [DType.bf16, .f16] where counts[dtype, default: 0] > counts[best, default: 0] { best = dtype }
        return best
    }

    /// `object` with `key` set to `value` (replaced in place, or added), keys sorted as transformers writes them.
    static func adding(_ key: String, _ value: JSONValue, to object: JSONValue) -> JSONValue {
        var pairs = (object.objectValue ?? []).filter { $0.0 != key }
        pairs.append((key, value))
        return .object(pairs.sorted { $0.0 < $1.0 })
    }

    /// The regular files of an HF directory other than weights and config.json (tokenizer files,
    /// generation_config.json, the GGUF sidecar, …), copied unchanged.
    static func sideFileCopies(in directory: URL) throws -> [URL] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        return names.filter { name in
            !name.hasPrefix(".") && name != "config.json" && !name.hasSuffix(".safetensors")
                && !name.hasSuffix(".safetensors.index.json")
        }.map { directory.appendingPathComponent($0) }.filter { url in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
    }
}
