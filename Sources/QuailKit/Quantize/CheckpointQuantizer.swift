// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import TensorCore

/// `quail quantize`: re-encodes a llama-family checkpoint tensor by tensor, to ggml types (GGUF output) or
/// bitsandbytes NF4/FP4/LLM.int8 (HF output), exactly as llama-quantize (without an importance matrix) and
/// bitsandbytes compute them.
///
/// The source is an HF directory or a GGUF file of any dequantizable types. Tensors are read, converted and
/// written one at a time, so peak memory is about one tensor. The output appears only when complete.
public enum CheckpointQuantizer {
    /// Quantization settings.
    public struct Options: Sendable {
        /// Types per tensor.
        public var recipe: QuantizationRecipe
        /// Refuse to write when any tensor needs a fallback type.
        public var strict: Bool
        /// Plan and report only; write nothing.
        public var dryRun: Bool
        /// Replace an existing output.
        public var overwrite: Bool
        /// Largest safetensors shard written (HF output), in bytes.
        public var maxShardByteCount: Int

        /// Creates options; by default not strict, writing, refusing to overwrite, 5 GB shards.
        public init(
            recipe: QuantizationRecipe, strict: Bool = false, dryRun: Bool = false, overwrite: Bool = false,
            maxShardByteCount: Int = 5_000_000_000
        ) {
            self.recipe = recipe
            self.strict = strict
            self.dryRun = dryRun
            self.overwrite = overwrite
            self.maxShardByteCount = maxShardByteCount
        }
    }

    /// Quantizes `source` into `destination` (`.gguf` → GGUF file, otherwise an HF directory), or with
    /// ``Options/dryRun`` only plans it.
    ///
    /// - Throws: ``CheckpointError`` (bad options, `--strict` fallbacks, NaN or infinite weights named by tensor,
    ///   an existing output), or the reader and writer errors of the formats. Nothing is left at
    ///   `destination` on failure.
    public static func quantize(
        from source: URL, to destination: URL, options: Options, progress: any ProgressReporting = SilentProgress()
    ) throws -> QuantizationReport {
        if !options.dryRun, !options.overwrite, FileManager.default.fileExists(atPath: destination.path) {
            throw CheckpointError.outputExists(path: destination.path)
        }
        let output = CheckpointFormat.forOutput(destination)
        let recipe = try options.recipe.compiled(for: output, destination: destination.path)
        let converterOptions = CheckpointConverter.Options(
            overwrite: options.overwrite, maxShardByteCount: options.maxShardByteCount)
        let job: QuantizationJob
        switch try CheckpointFormat.detect(source) {
        case .hfDirectory:
            let checkpoint = try HFCheckpoint(directory: source)
            job = try output == .ggufFile
                ? .hfToGGUF(checkpoint, CheckpointConverter.planHFToGGUF(checkpoint, options: converterOptions))
                : .hfToHF(checkpoint, hfPlan(checkpoint, options: converterOptions))
        case .ggufFile:
            let file = try GGUFFile(contentsOf: source)
            let hparams = try LlamaHyperparameters(
                metadata: file.metadata, hasOutputTensor: file["output.weight"] != nil, path: file.url.path)
            let plan = try CheckpointConverter.ggufPlan(
                file, hparams: hparams, options: converterOptions, direction: output == .ggufFile ? nil : .ggufToHF)
            job = output == .ggufFile ? .ggufToGGUF(file, plan) : .ggufToHF(file, hparams, plan)
        default:
            throw CheckpointError.unrecognizedInput(path: source.path)
        }
        let decisions = job.tensors.map { recipe.decide($0, tiedEmbeddings: job.tiedEmbeddings) }
        var report = QuantizationReport(
            source: source.path, destination: destination.path, target: options.recipe.target,
            dryRun: options.dryRun, tensors: decisions, notes: [])
        if options.dryRun { return report }
        if options.strict { try report.checkStrict() }
        let clock = EncodingClock()
        switch job {
        case .hfToGGUF, .ggufToGGUF:
            report.notes = try writeGGUF(job, decisions: decisions, target: options.recipe.target,
                to: destination, options: converterOptions, progress: progress, clock: clock)
        case .hfToHF, .ggufToHF:
            report.tensors = try writeHF(
                job, decisions: decisions, target: options.recipe.target, to: destination, options: options,
                progress: progress, clock: clock)
        }
        report.quantizeSeconds = clock.seconds
        return report
    }

    /// Plans an HF checkpoint's tensors in natural order under their HF names.
    private static func hfPlan(
        _ checkpoint: HFCheckpoint, options: CheckpointConverter.Options
    ) throws -> [PlannedTensor] {
        try checkpoint.validateTensors()
        let order = LlamaTensorNames.naturallySorted(checkpoint.weights.tensorNames)
        return try CheckpointConverter.hfPlan(checkpoint, order: order, options: options, toGGUF: false)
    }

    /// Writes a GGUF file: the planned tensors retyped by the decisions, the source's (or derived) metadata
    /// with `general.file_type` set to the requested type and `general.quantization_version` 2, as
    /// llama-quantize writes them.
    private static func writeGGUF(
        _ job: QuantizationJob, decisions: [TensorQuantization], target: QuantizationTarget, to destination: URL,
        options: CheckpointConverter.Options, progress: any ProgressReporting, clock: EncodingClock
    ) throws -> [String] {
        let retyped = zip(job.tensors, decisions).map { tensor, decision in
            tensor.retyped(decision.target.ggmlType ?? tensor.outputType)
        }
        var metadata: GGUFMetadata
        var notes: [String] = []
        let source: URL
        switch job {
        case .hfToGGUF(let checkpoint, var plan):
            plan.tensors = retyped
            metadata = plan.metadata()
            notes = plan.notes(metadata: metadata)
            source = checkpoint.directory
        case .ggufToGGUF(let file, _):
            metadata = file.metadata
            source = file.url
        default:
            preconditionFailure("writeGGUF needs a GGUF output")
        }
        let fileType = target.ggmlType.flatMap { LlamaFileType(dominantType: $0) } ?? .allF32
        metadata[GGUFKey.General.fileType] = .uint32(fileType.rawValue)
        metadata[GGUFKey.General.quantizationVersion] = .uint32(GGUFWriter.quantizationVersion)
        try CheckpointConverter.writeGGUF(
            retyped, metadata: metadata, to: destination, source: source, options: options, progress: progress,
            clock: clock)
        return notes
    }
}

/// A planned quantization: the source, its tensors in output order, and what the output needs.
enum QuantizationJob {
    case hfToGGUF(HFCheckpoint, CheckpointConverter.HFToGGUFPlan)
    case hfToHF(HFCheckpoint, [PlannedTensor])
    case ggufToGGUF(GGUFFile, [PlannedTensor])
    case ggufToHF(GGUFFile, LlamaHyperparameters, [PlannedTensor])

    /// The tensors in output order.
    var tensors: [PlannedTensor] {
        switch self {
        case .hfToGGUF(_, let plan): plan.tensors
        case .hfToHF(_, let tensors), .ggufToGGUF(_, let tensors), .ggufToHF(_, _, let tensors): tensors
        }
    }

    /// True when the model has no separate output matrix (llama-quantize then treats the token embedding
    /// as the output tensor).
    var tiedEmbeddings: Bool { !tensors.contains { LlamaTensorNames.role(ofHF: $0.hfName)?.role == .output } }
}
