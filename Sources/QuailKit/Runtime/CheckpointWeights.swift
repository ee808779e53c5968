// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import LinearAlgebra
import Quantization
import SafeTensors
import TensorCore
import Transformer

/// The weights of a llama checkpoint on disk (HF directory, bitsandbytes pre-quantized HF directory, or GGUF
/// file), decoded to F32 one piece at a time.
///
/// Opening checks everything the forward pass relies on before any weight data is decoded: the architecture and
/// hyperparameters, that the tensors are exactly the ones the architecture has, their shapes, and that every
/// stored type can be decoded (F32/F16/BF16 safetensors; NF4/FP4/LLM.int8 linears of an HF directory whose
/// config.json has a bitsandbytes `quantization_config`, with their statistics; any type ``GGMLCodec``
/// dequantizes in GGUF). Each ``layerWeights(at:)`` then decodes one block from the memory-mapped files
/// (bitsandbytes linears through ``BitsAndBytesCheckpoint/dequantized(_:)``); GGUF q/k rows get llama.cpp's
/// conversion permutation undone (``QKPermutation``, `ggufToHF`) so the forward pass always sees HF order.
public final class CheckpointWeights: LayerWeightsSource, @unchecked Sendable {
    /// Decoding fails only on stored data that breaks a rule, named by file and tensor (the container and
    /// statistics checks made when opening rule out the known cases).
    public typealias Failure = CheckpointError

    /// The checkpoint path.
    public let url: URL
    /// HF directory or GGUF file.
    public let format: CheckpointFormat
    /// The model's hyperparameters.
    public let hyperparameters: LlamaHyperparameters
    /// The forward-pass configuration.
    public let configuration: LlamaConfiguration
    /// Stored tensor types and how many tensors have each (`"Q4_1": 210`; bitsandbytes linears count as
    /// `"nf4"`, `"fp4"` or `"int8"`, as `quail quantize --type` names them).
    public let storedTypes: [String: Int]
    /// The tensors decoded by ``GGMLCodec`` (all of them except bitsandbytes-quantized linears).
    private let tensors: [String: PlannedTensor]
    /// Keeps the memory mappings that `tensors` point into alive.
    private let storage: Storage

    private enum Storage {
        case hf(HFCheckpoint)
        case gguf(GGUFFile)
        /// An HF directory with bitsandbytes-quantized linears, read by `quantized`.
        case bitsAndBytes(HFCheckpoint, quantized: BitsAndBytesCheckpoint)
    }

    /// Opens and validates a checkpoint.
    ///
    /// - Throws: ``CheckpointError`` (architecture, hyperparameters, missing/unexpected tensors, shapes, a bad
    ///   bitsandbytes `quantization_config`, quant state or statistic), ``EvaluationError`` (not a loadable path,
    ///   undecodable tensor types), or the container's read errors.
    public init(contentsOf url: URL) throws {
        self.url = url
        format = try CheckpointFormat.detect(url)
        let planned: [PlannedTensor]
        var quantizedTypes: [String] = []
        switch format {
        case .hfDirectory:
            let checkpoint = try HFCheckpoint(directory: url)
            hyperparameters = checkpoint.hyperparameters
            if checkpoint.config["quantization_config"] != nil {
                let quantized = try Self.openBitsAndBytes(checkpoint)
                (planned, quantizedTypes) = try Self.plan(quantized, hyperparameters: hyperparameters)
                storage = .bitsAndBytes(checkpoint, quantized: quantized)
            } else {
                try checkpoint.validateTensors()
                planned = try Self.plan(checkpoint)
                storage = .hf(checkpoint)
            }
        case .ggufFile:
            let file = try GGUFFile(contentsOf: url)
            var hparams = try LlamaHyperparameters(
                metadata: file.metadata, hasOutputTensor: file["output.weight"] != nil, path: url.path)
            hparams.ropeFrequencyFactors = try Self.ropeFrequencyFactors(file, headDim: hparams.headDim)
            hyperparameters = hparams
            planned = try CheckpointConverter.ggufPlan(
                file, hparams: hyperparameters, options: .init(), direction: .ggufToHF)
            storage = .gguf(file)
        case .safetensorsFile:
            throw EvaluationError.unsupportedInput(path: url.path)
        }
        let undecodable = planned.filter { !GGMLCodec.canDequantize($0.sourceType) }
        guard undecodable.isEmpty else {
            throw EvaluationError.unsupportedTensorTypes(
                path: url.path, tensors: undecodable.map { "\($0.outputName) (\($0.sourceType.name))" })
        }
        configuration = LlamaConfiguration(hyperparameters)
        tensors = Dictionary(uniqueKeysWithValues: planned.map { ($0.hfName, $0) })
        let typeNames = planned.map(\.sourceType.name) + quantizedTypes
        storedTypes = Dictionary(typeNames.map { ($0, 1) }, uniquingKeysWith: +)
    }

    /// The checkpoint's tokenizer description (`tokenizer.json` + `tokenizer_config.json`, or GGUF
    /// `tokenizer.ggml.*`).
    ///
    /// - Throws: ``CheckpointError`` when the tokenizer is absent or of a kind Quail does not read.
    public func tokenizerMetadata() throws -> BPETokenizerMetadata {
        switch storage {
        case .hf(let checkpoint), .bitsAndBytes(let checkpoint, _): try checkpoint.tokenizer()
        case .gguf(let file): try BPETokenizerMetadata(metadata: file.metadata, path: url.path)
        }
    }

    /// Plans the tensors of a validated HF checkpoint as F32 reads of their stored bytes.
    private static func plan(_ checkpoint: HFCheckpoint) throws -> [PlannedTensor] {
        var planned: [PlannedTensor] = []
        var undecodable: [String] = []
        for name in LlamaTensorNames.expectedHFNames(for: checkpoint.hyperparameters) {
            guard let (file, info) = checkpoint.weights.locate(name) else { continue }
            guard let type = TensorEncoding.ggmlType(for: info.dtype) else {
                undecodable.append("\(name) (\(info.dtype.rawValue))")
                continue
            }
            planned.append(
                PlannedTensor(
                    hfName: name, outputName: name, shape: info.shape, sourceType: type, outputType: .f32,
                    sourceBytes: file.bytes(of: info), permutation: nil))
        }
        guard undecodable.isEmpty else {
            throw EvaluationError.unsupportedTensorTypes(path: checkpoint.directory.path, tensors: undecodable)
        }
        return planned
    }

    /// Opens the bitsandbytes view of `checkpoint` and checks its logical tensors (names and original shapes) and
    /// the statistics of every quantized linear, so a broken quant state fails before any block is decoded.
    private static func openBitsAndBytes(_ checkpoint: HFCheckpoint) throws -> BitsAndBytesCheckpoint {
        let quantized = try BitsAndBytesCheckpoint(directory: checkpoint.directory)
        try HFCheckpoint.validateTensors(
            names: quantized.tensorNames, hyperparameters: checkpoint.hyperparameters, directory: checkpoint.directory
        ) { name in
            guard let shape = quantized.shape(of: name), let (file, _) = quantized.weights.locate(name) else {
                return nil
            }
            return (file.url.path, shape)
        }
        try quantized.validateStatistics()
        return quantized
    }

    /// Plans the float tensors of a validated bitsandbytes checkpoint as F32 reads of their stored bytes; returns
    /// them with the type name (`nf4`, `fp4`, `int8`) of each quantized linear, which ``decode(_:)`` leaves to
    /// ``BitsAndBytesCheckpoint/dequantized(_:)``.
    ///
    /// - Throws: ``EvaluationError/unsupportedTensorTypes(path:tensors:)`` for a quantized embedding (bitsandbytes
    ///   quantizes only Linear layers; the embedding lookup reads rows of a float table).
    private static func plan(
        _ quantized: BitsAndBytesCheckpoint, hyperparameters: LlamaHyperparameters
    ) throws -> (planned: [PlannedTensor], quantizedTypes: [String]) {
        let embedding = "model.embed_tokens.weight"
        guard case .float = quantized.storage(of: embedding) else {
            throw EvaluationError.unsupportedTensorTypes(
                path: quantized.directory.path, tensors: ["\(embedding) (bitsandbytes-quantized embedding)"])
        }
        var planned: [PlannedTensor] = []
        var quantizedTypes: [String] = []
        for name in LlamaTensorNames.expectedHFNames(for: hyperparameters) {
            switch quantized.storage(of: name) {
            case .float(let dtype):
                guard let (file, info) = quantized.weights.locate(name), let type = TensorEncoding.ggmlType(for: dtype)
                else { continue }
                planned.append(
                    PlannedTensor(
                        hfName: name, outputName: name, shape: info.shape, sourceType: type, outputType: .f32,
                        sourceBytes: file.bytes(of: info), permutation: nil))
            case .fourBit(let type, _, _, _): quantizedTypes.append(type.rawValue)
            case .int8: quantizedTypes.append(QuantizationTarget.bitsAndBytesInt8.name)
            case nil: continue
            }
        }
        return (planned, quantizedTypes)
    }

    // MARK: - LayerWeightsSource

    /// Decodes the embedding rows of `tokens` only (the whole matrix is never expanded for the lookup).
    public func embeddings(of tokens: [Int]) throws(CheckpointError) -> Matrix {
        let name = "model.embed_tokens.weight"
        let table = tensor(name)
        let width = configuration.hiddenSize
        let rowBytes = table.sourceBytes.count / configuration.vocabSize
        var rows = Matrix(zeros: tokens.count, width)
        let result = rows.values.withUnsafeMutableBufferPointer { out in
            Result { () throws(QuantizationError) in
                for (t, token) in tokens.enumerated() {
                    precondition(token >= 0 && token < configuration.vocabSize, "token id out of range")
                    let bytes = UnsafeRawBufferPointer(
                        rebasing: table.sourceBytes[token * rowBytes..<(token + 1) * rowBytes])
                    try GGMLCodec.dequantize(
                        bytes, as: table.sourceType,
                        into: UnsafeMutableBufferPointer(rebasing: out[t * width..<(t + 1) * width]))
                }
            }
        }
        try result.mapError { codecFailure($0, name) }.get()
        return rows
    }

    /// The values of a GGUF file's `rope_freqs.weight` (F32, `hd/2` positive finite values; llama.cpp's
    /// `LLM_TENSOR_ROPE_FREQS`), or nil when the file has none.
    private static func ropeFrequencyFactors(_ file: GGUFFile, headDim: Int) throws -> [Float]? {
        let name = LlamaTensorNames.ropeFrequencies
        guard let info = file[name] else { return nil }
        let shape = Array(info.dimensions.reversed())
        guard shape == [headDim / 2] else {
            throw CheckpointError.shapeMismatch(
                path: file.url.path, tensor: name, expected: [headDim / 2], actual: shape)
        }
        guard info.type == .f32 else {
            throw CheckpointError.invalidQuantizedTensor(
                path: file.url.path, tensor: name,
                reason: "must be F32, is \(info.type?.name ?? "type \(info.typeID)")")
        }
        let bytes = try file.bytes(of: info)
        let values = (0..<headDim / 2).map { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        guard values.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw CheckpointError.invalidQuantizedTensor(
                path: file.url.path, tensor: name, reason: "every factor must be positive and finite")
        }
        return values
    }

    /// Decodes block `index` (with the q/k/v biases side by side when the model has them).
    public func layerWeights(at index: Int) throws(CheckpointError) -> LlamaLayerWeights {
        let prefix = "model.layers.\(index)."
        return LlamaLayerWeights(
            attentionNorm: try vector(prefix + "input_layernorm.weight"),
            query: try matrix(prefix + "self_attn.q_proj.weight"),
            key: try matrix(prefix + "self_attn.k_proj.weight"),
            value: try matrix(prefix + "self_attn.v_proj.weight"),
            attentionOutput: try matrix(prefix + "self_attn.o_proj.weight"),
            feedForwardNorm: try vector(prefix + "post_attention_layernorm.weight"),
            gate: try matrix(prefix + "mlp.gate_proj.weight"),
            up: try matrix(prefix + "mlp.up_proj.weight"),
            down: try matrix(prefix + "mlp.down_proj.weight"),
            queryKeyValueBias: hyperparameters.hasQueryKeyValueBias
                ? try vector(prefix + "self_attn.q_proj.bias") + vector(prefix + "self_attn.k_proj.bias")
                    + vector(prefix + "self_attn.v_proj.bias") : nil)
    }

    /// Decodes the final norm and the output projection (the embedding matrix when tied).
    public func headWeights() throws(CheckpointError) -> LlamaHeadWeights {
        LlamaHeadWeights(outputNorm: try outputNorm(), output: try matrix(outputName))
    }

    /// Decodes the final norm.
    public func outputNorm() throws(CheckpointError) -> [Float] {
        try vector("model.norm.weight")
    }

    /// Decodes rows `range` of the output projection from their stored bytes (a bitsandbytes-quantized `lm_head`
    /// is decoded whole and sliced).
    public func outputRows(_ range: Range<Int>) throws(CheckpointError) -> Matrix {
        guard let table = tensors[outputName] else { return try matrix(outputName).rows(range) }
        let width = configuration.hiddenSize
        let rowBytes = table.sourceBytes.count / configuration.vocabSize
        let bytes = UnsafeRawBufferPointer(
            rebasing: table.sourceBytes[range.lowerBound * rowBytes..<range.upperBound * rowBytes])
        let values = try dequantized(bytes, as: table.sourceType, count: range.count * width, name: outputName)
        return Matrix(rows: range.count, columns: width, values: values)
    }

    /// The output projection's tensor: the embedding matrix when tied.
    private var outputName: String {
        configuration.tiedEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"
    }

    // MARK: - Decoding

    private func tensor(_ name: String) -> PlannedTensor {
        guard let tensor = tensors[name] else { preconditionFailure("validated checkpoint lacks \(name)") }
        return tensor
    }

    private func vector(_ name: String) throws(CheckpointError) -> [Float] {
        try decode(name)
    }

    private func matrix(_ name: String) throws(CheckpointError) -> Matrix {
        let values = try decode(name)
        let rows = configurationShape(of: name)
        return Matrix(rows: rows[0], columns: rows[1], values: values)
    }

    /// The shape the hyperparameters give tensor `name` (validated against the stored one when opening).
    private func configurationShape(of name: String) -> [Int] {
        guard let role = LlamaTensorNames.role(ofHF: name) else { preconditionFailure("\(name) is not a llama tensor") }
        return LlamaTensorNames.expectedShape(of: role.role, for: hyperparameters)
    }

    /// Tensor `name` as F32 in HF row order: bitsandbytes-quantized linears through their dequantizer, every
    /// other tensor through ``GGMLCodec``.
    private func decode(_ name: String) throws(CheckpointError) -> [Float] {
        guard let t = tensors[name] else {
            guard case .bitsAndBytes(_, let quantized) = storage else {
                preconditionFailure("validated checkpoint lacks \(name)")
            }
            return try quantized.dequantized(name)
        }
        let count = t.shape.reduce(1, *)
        let values = try dequantized(t.sourceBytes, as: t.sourceType, count: count, name: name)
        guard let (heads, direction) = t.permutation, let columns = t.shape.last else { return values }
        return [Float](unsafeUninitializedCapacity: count) { destination, initialized in
            values.withUnsafeBytes { source in
                QKPermutation.permuteRows(
                    source, into: UnsafeMutableRawBufferPointer(destination), heads: heads,
                    rowByteCount: columns * MemoryLayout<Float>.size, direction: direction)
            }
            initialized = count
        }
    }

    /// `count` F32 values decoded from `bytes` of tensor `name` by ``GGMLCodec``.
    private func dequantized(
        _ bytes: UnsafeRawBufferPointer, as type: GGMLType, count: Int, name: String
    ) throws(CheckpointError) -> [Float] {
        var failure: QuantizationError?
        // Every element is written by the codec (it checks the element count), so the buffer starts uninitialized.
        let values = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            do throws(QuantizationError) {
                try GGMLCodec.dequantize(bytes, as: type, into: out)
            } catch {
                failure = error
                out.initialize(repeating: 0)
            }
            initialized = count
        }
        if let failure { throw codecFailure(failure, name) }
        return values
    }

    /// A codec failure on tensor `name` (ruled out by the checks made when opening) as a checkpoint error.
    private func codecFailure(_ error: QuantizationError, _ name: String) -> CheckpointError {
        .invalidQuantizedTensor(path: url.path, tensor: name, reason: error.description)
    }
}
