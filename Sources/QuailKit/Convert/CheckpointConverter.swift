// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import Quantization
import SafeTensors
import TensorCore

/// Lossless conversion between HF llama-family directories and GGUF files (`quail convert`).
///
/// HF → GGUF renames tensors, reverses dimension order, applies llama.cpp's Q/K row permutation and writes
/// the `llama.*` and `tokenizer.ggml.*` keys llama.cpp requires. GGUF → HF undoes all of it and writes
/// `config.json`, tokenizer files and, when needed, a ``GGUFSidecar`` so the GGUF can be rebuilt byte for
/// byte. GGUF → GGUF copies (or, with a dtype, re-encodes) tensors. A GGUF written from HF (or re-encoded
/// with a dtype) holds its 1-D tensors as F32, as llama.cpp's converter writes them; an HF directory holds
/// them in the model's 2-D type when that keeps every bit. Other types change only when ``Options/dtype``
/// asks, and every change is reported.
public enum CheckpointConverter {
    /// Conversion settings.
    public struct Options: Sendable {
        /// Output type for 2-D tensors (F32, F16 or BF16); nil keeps their type (lossless mode).
        public var dtype: DType?
        /// Replace an existing output.
        public var overwrite: Bool
        /// Largest safetensors shard written (HF output), in bytes.
        public var maxShardByteCount: Int

        /// Creates options; the default keeps types, refuses to overwrite, and shards at 5 GB like transformers.
        public init(dtype: DType? = nil, overwrite: Bool = false, maxShardByteCount: Int = 5_000_000_000) {
            self.dtype = dtype
            self.overwrite = overwrite
            self.maxShardByteCount = maxShardByteCount
        }
    }

    /// Converts `source` to `destination`; formats are detected from the source's bytes and the destination's
    /// extension (`.gguf` → GGUF, otherwise an HF directory).
    ///
    /// - Throws: ``CheckpointError``, ``SafeTensorsError``, ``GGUFError`` or a file error; nothing is left at
    ///   `destination` on failure.
    public static func convert(
        from source: URL, to destination: URL, options: Options = Options(),
        progress: any ProgressReporting = SilentProgress()
    ) throws -> ConversionReport {
        if let dtype = options.dtype, TensorEncoding.ggmlType(for: dtype) == nil {
            throw CheckpointError.invalidField(path: source.path, key: "--dtype", expected: "f32, f16 or bf16")
        }
        if !options.overwrite, FileManager.default.fileExists(atPath: destination.path) {
            throw CheckpointError.outputExists(path: destination.path)
        }
        let output = CheckpointFormat.forOutput(destination)
        switch (try CheckpointFormat.detect(source), output) {
        case (.hfDirectory, .ggufFile):
            return try hfToGGUF(HFCheckpoint(directory: source), destination, options, progress)
        case (.ggufFile, .hfDirectory):
            return try ggufToHF(GGUFFile(contentsOf: source), destination, options, progress)
        case (.ggufFile, .ggufFile):
            return try ggufToGGUF(GGUFFile(contentsOf: source), destination, options, progress)
        default:
            throw CheckpointError.unrecognizedInput(path: source.path)
        }
    }

    /// The output type of a tensor: the requested dtype for 2-D tensors (otherwise the source type); 1-D
    /// tensors become F32 when `vectorsAsF32`, otherwise keep the source type.
    ///
    /// GGUF outputs pass `vectorsAsF32` like llama.cpp's `convert_hf_to_gguf.py` (`prepare_tensors` writes
    /// every tensor with at most one dimension as F32): ggml's CPU `ggml_mul` has no F32 × F16/BF16 kernel,
    /// so a GGUF with F16/BF16 norm weights does not run in llama.cpp.
    static func outputType(source: GGMLType, shape: [Int], options: Options, vectorsAsF32: Bool) -> GGMLType {
        if shape.count < 2 { return vectorsAsF32 ? .f32 : source }
        guard let dtype = options.dtype, let type = TensorEncoding.ggmlType(for: dtype) else { return source }
        return type
    }

    /// Writes planned tensors to a GGUF file; a tensor whose values the output type cannot encode fails with
    /// ``CheckpointError/cannotQuantize(path:tensor:reason:)`` naming `source`. `clock`, when given, times
    /// the encoding.
    static func writeGGUF(
        _ plan: [PlannedTensor], metadata: GGUFMetadata, to destination: URL, source: URL, options: Options,
        progress: any ProgressReporting, clock: EncodingClock? = nil
    ) throws {
        let entries = plan.map {
            GGUFWriter.Entry(name: $0.outputName, dimensions: $0.shape.reversed(), type: $0.outputType)
        }
        var done = 0
        try GGUFWriter.write(to: destination, metadata: metadata, tensors: entries, overwrite: options.overwrite) {
            entry, stream in
            do {
                try plan[done].write(to: stream, clock: clock)
            } catch let error as QuantizationError {
                throw CheckpointError.cannotQuantize(path: source.path, tensor: entry.name, reason: error.description)
            }
            done += 1
            progress.update(completed: done, total: plan.count, label: entry.name)
        }
        progress.finish()
    }

    /// The `general.file_type` value for the most common type among 2-D tensors.
    static func fileType(of plan: [PlannedTensor]) -> UInt32 {
        dominantMatrixType(of: plan).flatMap { LlamaFileType(dominantType: $0)?.rawValue } ?? 0
    }

    /// The most common output type among 2-D tensors (ties go to the lower ggml type id), nil without any.
    static func dominantMatrixType(of plan: [PlannedTensor]) -> GGMLType? {
        var counts: [GGMLType: Int] = [:]
        for tensor in plan where tensor.shape.count >= 2 { counts[tensor.outputType, default: 0] += 1 }
        return counts.max { $0.value < $1.value || $0.value == $1.value && $0.key.rawValue > $1.key.rawValue }?.key
    }

    static func report(
        _ plan: [PlannedTensor], source: URL, destination: URL, notes: [String]
    ) -> ConversionReport {
        ConversionReport(
            source: source.path, destination: destination.path, tensorCount: plan.count,
            tensorBytes: plan.reduce(0) { $0 + $1.outputByteCount }, casts: plan.compactMap(\.cast), notes: notes)
    }
}
