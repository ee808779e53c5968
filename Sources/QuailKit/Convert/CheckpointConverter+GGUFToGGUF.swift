// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import TensorCore

extension CheckpointConverter {
    /// GGUF file → GGUF file: a byte-identical copy, or a re-encoding of 2-D tensors with `--dtype`.
    static func ggufToGGUF(
        _ file: GGUFFile, _ destination: URL, _ options: Options, _ progress: any ProgressReporting
    ) throws -> ConversionReport {
        let hparams = try LlamaHyperparameters(
            metadata: file.metadata, hasOutputTensor: file["output.weight"] != nil, path: file.url.path)
        let plan = try ggufPlan(file, hparams: hparams, options: options, direction: nil)
        var metadata = file.metadata
        if plan.contains(where: { $0.cast != nil }) {
            metadata["general.file_type"] = .uint32(fileType(of: plan))
            if !plan.contains(where: { $0.outputType.isQuantized }) {
                metadata["general.quantization_version"] = nil
            }
        }
        try writeGGUF(plan, metadata: metadata, to: destination, source: file.url, options: options, progress: progress)
        return report(plan, source: file.url, destination: destination, notes: [])
    }
}
