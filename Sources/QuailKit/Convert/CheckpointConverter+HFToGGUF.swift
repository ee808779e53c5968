// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import SafeTensors
import TensorCore

extension CheckpointConverter {
    /// What HF → GGUF writes, before any tensor is read: the tensors in output order and what the metadata
    /// is derived from.
    struct HFToGGUFPlan {
        /// The tensors in GGUF order, with GGUF names and the Q/K permutation.
        var tensors: [PlannedTensor]
        let hparams: LlamaHyperparameters
        let tokenizer: BPETokenizerMetadata
        let sidecar: GGUFSidecar?

        /// The GGUF metadata for ``tensors`` as they are now (file type and quantization version follow them).
        func metadata() -> GGUFMetadata {
            let derived = CheckpointConverter.derivedMetadata(hparams: hparams, tokenizer: tokenizer, plan: tensors)
            return sidecar?.apply(to: derived) ?? derived
        }

        /// Notes for the report.
        func notes(metadata: GGUFMetadata) -> [String] {
            var notes: [String] = []
            if tokenizer.preTokenizerName == nil, metadata["tokenizer.ggml.pre"] == nil {
                notes.append("pre-tokenizer not recognised: tokenizer.ggml.pre left out (llama.cpp uses `default`)")
            }
            if sidecar != nil { notes.append("applied \(GGUFSidecar.fileName)") }
            return notes
        }
    }

    /// HF directory → GGUF file.
    static func hfToGGUF(
        _ checkpoint: HFCheckpoint, _ destination: URL, _ options: Options, _ progress: any ProgressReporting
    ) throws -> ConversionReport {
        let plan = try planHFToGGUF(checkpoint, options: options)
        let metadata = plan.metadata()
        try writeGGUF(plan.tensors, metadata: metadata, to: destination, source: checkpoint.directory, options: options, progress: progress)
        return report(
            plan.tensors, source: checkpoint.directory, destination: destination, notes: plan.notes(metadata: metadata))
    }

    /// Plans HF → GGUF: validates the checkpoint and that its rope scaling has a GGUF form (none or linear), reads the
    /// tokenizer and sidecar, and orders the tensors.
    static func planHFToGGUF(_ checkpoint: HFCheckpoint, options: Options) throws -> HFToGGUFPlan {
        try checkpoint.validateTensors()
        switch checkpoint.hyperparameters.ropeScaling {
        case nil, .linear: break
        case let scaling?:
            throw CheckpointError.unsupportedArchitecture(
                path: checkpoint.directory.appendingPathComponent("config.json").path,
                found: "rope_scaling \(scaling.configJSON.text()) for a GGUF output",
                supported: ["rope_scaling null or linear (llama.cpp has no dynamic scaling; Quail does not write "
                    + "Llama 3's rope_freqs.weight)"])
        }
        let tokenizer = try checkpoint.tokenizer()
        let sidecarURL = checkpoint.directory.appendingPathComponent(GGUFSidecar.fileName)
        let sidecar = FileManager.default.fileExists(atPath: sidecarURL.path)
            ? try GGUFSidecar(json: HFCheckpoint.readJSON(sidecarURL), path: sidecarURL.path) : nil
        let natural = LlamaTensorNames.naturallySorted(checkpoint.weights.tensorNames)
        let order = sidecar?.tensorOrder ?? natural
        guard Set(order) == Set(natural), order.count == natural.count else {
            throw CheckpointError.invalidField(
                path: sidecarURL.path, key: "tensor_order", expected: "the checkpoint's tensor names, each once")
        }
        var tensors = try hfPlan(checkpoint, order: order, options: options, toGGUF: true)
        if let sidecar, options.dtype == nil, !sidecar.tensorTypes.isEmpty {
            tensors = try sidecar.applyTensorTypes(to: tensors, path: sidecarURL.path)
        }
        return HFToGGUFPlan(
            tensors: tensors, hparams: checkpoint.hyperparameters, tokenizer: tokenizer, sidecar: sidecar)
    }

    /// Plans every tensor of a checkpoint (already checked by ``HFCheckpoint/validateTensors()``) in `order`:
    /// GGUF names, the Q/K permutation and F32 1-D tensors when `toGGUF`, HF names, no permutation and
    /// unchanged 1-D types otherwise.
    ///
    /// - Throws: ``CheckpointError/unexpectedTensors(path:names:)`` for tensors that are not F32, F16 or BF16.
    static func hfPlan(
        _ checkpoint: HFCheckpoint, order: [String], options: Options, toGGUF: Bool
    ) throws(CheckpointError) -> [PlannedTensor] {
        let hparams = checkpoint.hyperparameters
        var plan: [PlannedTensor] = []
        var notTransferable: [String] = []
        for name in order {
            guard let (file, info) = checkpoint.weights.locate(name), let ggufName = LlamaTensorNames.ggufName(forHF: name)
            else { continue }
            guard let sourceType = TensorEncoding.ggmlType(for: info.dtype) else {
                notTransferable.append("\(name) (\(info.dtype.rawValue))")
                continue
            }
            plan.append(PlannedTensor(
                hfName: name, outputName: toGGUF ? ggufName : name, shape: info.shape, sourceType: sourceType,
                outputType: outputType(source: sourceType, shape: info.shape, options: options, vectorsAsF32: toGGUF),
                sourceBytes: file.bytes(of: info),
                permutation: toGGUF ? hparams.permutationHeads(forHF: name).map { ($0, .hfToGGUF) } : nil))
        }
        guard notTransferable.isEmpty else {
            throw CheckpointError.unexpectedTensors(path: checkpoint.directory.path, names: notTransferable)
        }
        return plan
    }

    /// The GGUF metadata Quail derives from HF hyperparameters and tokenizer for a planned set of tensors.
    static func derivedMetadata(
        hparams: LlamaHyperparameters, tokenizer: BPETokenizerMetadata, plan: [PlannedTensor]
    ) -> GGUFMetadata {
        var metadata = GGUFMetadata()
        for (key, value) in hparams.ggufEntries(fileType: fileType(of: plan)) + tokenizer.ggufEntries {
            metadata[key] = value
        }
        if plan.contains(where: { $0.outputType.isQuantized }) {
            metadata["general.quantization_version"] = .uint32(2)
        }
        return metadata
    }
}
