// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import SafeTensors
import TensorCore

extension CheckpointConverter {
    /// HF directory → GGUF file.
    static func hfToGGUF(
        _ checkpoint: HFCheckpoint, _ destination: URL, _ options: Options, _ progress: any ProgressReporting
    ) throws -> ConversionReport {
        try checkpoint.validateTensors()
        let hparams = checkpoint.hyperparameters
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
                hfName: name, outputName: ggufName, shape: info.shape, sourceType: sourceType,
                outputType: outputType(source: sourceType, shape: info.shape, options: options),
                sourceBytes: file.bytes(of: info),
                permutation: hparams.permutationHeads(forHF: name).map { ($0, .hfToGGUF) }))
        }
        guard notTransferable.isEmpty else {
            throw CheckpointError.unexpectedTensors(path: checkpoint.directory.path, names: notTransferable)
        }
        let derived = derivedMetadata(hparams: hparams, tokenizer: tokenizer, plan: plan)
        let metadata = sidecar?.apply(to: derived) ?? derived
        try writeGGUF(plan, metadata: metadata, to: destination, options: options, progress: progress)
        var notes: [String] = []
        if tokenizer.preTokenizerName == nil, metadata["tokenizer.ggml.pre"] == nil {
            notes.append("pre-tokenizer not recognised: tokenizer.ggml.pre left out (llama.cpp uses `default`)")
        }
        if sidecar != nil { notes.append("applied \(GGUFSidecar.fileName)") }
        return report(plan, source: checkpoint.directory, destination: destination, notes: notes)
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
