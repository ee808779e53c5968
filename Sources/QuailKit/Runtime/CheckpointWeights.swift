// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import LinearAlgebra
import Quantization
import SafeTensors
import TensorCore
import Transformer

/// The weights of a llama checkpoint on disk (HF directory or GGUF file), decoded to F32 one piece at a time.
///
/// Opening checks everything the forward pass relies on before any tensor data is touched: the architecture and
/// hyperparameters, that the tensors are exactly the ones the architecture has, their shapes, and that every
/// stored type can be decoded (F32/F16/BF16 safetensors; any type ``GGMLCodec`` dequantizes in GGUF). Each
/// ``layerWeights(at:)`` then decodes one block from the memory-mapped file; GGUF q/k rows get llama.cpp's
/// conversion permutation undone (``QKPermutation``, `ggufToHF`) so the forward pass always sees HF order.
public final class CheckpointWeights: LayerWeightsSource, @unchecked Sendable {
    /// Decoding can only fail on a codec error (ruled out when opening; kept typed for safety).
    public typealias Failure = QuantizationError

    /// The checkpoint path.
    public let url: URL
    /// HF directory or GGUF file.
    public let format: CheckpointFormat
    /// The model's hyperparameters.
    public let hyperparameters: LlamaHyperparameters
    /// The forward-pass configuration.
    public let configuration: LlamaConfiguration
    /// Stored tensor types and how many tensors have each (`"Q4_1": 210`).
    public let storedTypes: [String: Int]
    private let tensors: [String: PlannedTensor]
    /// Keeps the memory mappings that `tensors` point into alive.
    private let storage: Storage

    private enum Storage {
        case hf(HFCheckpoint)
        case gguf(GGUFFile)
    }

    /// Opens and validates a checkpoint.
    ///
    /// - Throws: ``CheckpointError`` (architecture, hyperparameters, missing/unexpected tensors, shapes),
    ///   ``EvaluationError`` (not a loadable path, undecodable tensor types), or the container's read errors.
    public init(contentsOf url: URL) throws {
        self.url = url
        format = try CheckpointFormat.detect(url)
        let planned: [PlannedTensor]
        switch format {
        case .hfDirectory:
            let checkpoint = try HFCheckpoint(directory: url)
            try checkpoint.validateTensors()
            hyperparameters = checkpoint.hyperparameters
            planned = try Self.plan(checkpoint)
            storage = .hf(checkpoint)
        case .ggufFile:
            let file = try GGUFFile(contentsOf: url)
            hyperparameters = try LlamaHyperparameters(
                metadata: file.metadata, hasOutputTensor: file["output.weight"] != nil, path: url.path)
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
        storedTypes = Dictionary(planned.map { ($0.sourceType.name, 1) }, uniquingKeysWith: +)
    }

    /// The checkpoint's tokenizer description (`tokenizer.json` + `tokenizer_config.json`, or GGUF
    /// `tokenizer.ggml.*`).
    ///
    /// - Throws: ``CheckpointError`` when the tokenizer is absent or of a kind Quail does not read.
    public func tokenizerMetadata() throws -> BPETokenizerMetadata {
        switch storage {
        case .hf(let checkpoint): try checkpoint.tokenizer()
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

    // MARK: - LayerWeightsSource

    /// Decodes the embedding rows of `tokens` only (the whole matrix is never expanded for the lookup).
    public func embeddings(of tokens: [Int]) throws(QuantizationError) -> Matrix {
        let table = tensor("model.embed_tokens.weight")
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
        try result.get()
        return rows
    }

    /// Decodes block `index`.
    public func layerWeights(at index: Int) throws(QuantizationError) -> LlamaLayerWeights {
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
            down: try matrix(prefix + "mlp.down_proj.weight"))
    }

    /// Decodes the final norm and the output projection (the embedding matrix when tied).
    public func headWeights() throws(QuantizationError) -> LlamaHeadWeights {
        LlamaHeadWeights(
            outputNorm: try vector("model.norm.weight"),
            output: try matrix(configuration.tiedEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"))
    }

    // MARK: - Decoding

    private func tensor(_ name: String) -> PlannedTensor {
        guard let tensor = tensors[name] else { preconditionFailure("validated checkpoint lacks \(name)") }
        return tensor
    }

    private func vector(_ name: String) throws(QuantizationError) -> [Float] {
        try decode(tensor(name))
    }

    private func matrix(_ name: String) throws(QuantizationError) -> Matrix {
        let t = tensor(name)
        return Matrix(rows: t.shape[0], columns: t.shape[1], values: try decode(t))
    }

    /// The tensor as F32 in HF row order.
    private func decode(_ t: PlannedTensor) throws(QuantizationError) -> [Float] {
        let count = t.shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        let result = values.withUnsafeMutableBufferPointer { out in
            Result { () throws(QuantizationError) in
                try GGMLCodec.dequantize(t.sourceBytes, as: t.sourceType, into: out)
            }
        }
        try result.get()
        guard let (heads, direction) = t.permutation, let columns = t.shape.last else { return values }
        var permuted = [Float](repeating: 0, count: count)
        values.withUnsafeBytes { source in
            permuted.withUnsafeMutableBytes { destination in
                QKPermutation.permuteRows(
                    source, into: destination, heads: heads, rowByteCount: columns * MemoryLayout<Float>.size,
                    direction: direction)
            }
        }
        return permuted
    }
}
