// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import LinearAlgebra
import TensorCore

/// Writes a LoRA adapter as a llama.cpp LoRA GGUF (`llama-cli --lora`).
///
/// The file is what llama.cpp's `convert_lora_to_gguf.py` writes with `--outtype f32`: metadata
/// `general.architecture` of the base (`llama`, `qwen2`), `general.type` "adapter", optional `general.name`,
/// `adapter.type` "lora", `adapter.lora.alpha` FLOAT32 (llama.cpp `llama_adapter_lora_init_impl` reads it as f32 and rejects other types);
/// per adapted linear, in natural layer order, `<base GGUF name>.lora_a` with ggml dimensions `[in, r]` and
/// `.lora_b` with `[r, out]`, both F32. llama.cpp permutes the rows of a llama base's q/k weights at conversion,
/// so the `lora_b` rows of q/k are permuted the same way (``QKPermutation``, heads = attention heads for q, key/value
/// heads for k); `lora_a` is stored as given.
///
/// llama.cpp scales `B·A` by `alpha / r` and has no rsLoRA, so the stored alpha is the float32 `alpha'` for which
/// `alpha' / r` equals ``LoRAAdapterContents/scale`` (the plain `lora_alpha` for the standard rule when that is
/// exact, else the nearest float32 to `scale · r` or a neighbour that divides back exactly).
public enum LlamaCppAdapterWriter {
    /// Writes `contents` to the file `url`, atomically (nothing is left there on failure).
    ///
    /// - Parameters:
    ///   - hyperparameters: the base model's, for checking the targets and shapes and for the q/k permutation.
    ///   - name: `general.name`, or nil to omit it.
    ///   - overwrite: allow replacing an existing file.
    /// - Throws: ``AdapterWriteError`` for invalid contents or a failed write.
    public static func write(
        _ contents: LoRAAdapterContents, to url: URL, for hyperparameters: LlamaHyperparameters, name: String? = nil,
        overwrite: Bool = false
    ) throws(AdapterWriteError) {
        let path = url.path
        try contents.validate(for: hyperparameters, path: path)
        var metadata = GGUFMetadata()
        metadata[GGUFKey.General.architecture] = .string(hyperparameters.ggufArchitecture)
        metadata[GGUFKey.General.type] = .string("adapter")
        if let name { metadata[GGUFKey.General.name] = .string(name) }
        metadata[GGUFKey.Adapter.type] = .string("lora")
        metadata[GGUFKey.Adapter.loraAlpha] = .float32(storedAlpha(for: contents))

        var matrices: [String: Matrix] = [:]
        var entries: [GGUFWriter.Entry] = []
        for weightName in contents.weightNames {
            guard let pair = contents.factors[weightName], let base = LlamaTensorNames.ggufName(forHF: weightName)
            else { throw .unknownTarget(path: path, tensor: weightName) }
            let b = try ggufRows(of: pair.b, weightName: weightName, hyperparameters: hyperparameters, path: path)
            for (suffix, matrix) in [("lora_a", pair.a), ("lora_b", b)] {
                let tensor = "\(base).\(suffix)"
                matrices[tensor] = matrix
                entries.append(.init(name: tensor, dimensions: [matrix.columns, matrix.rows], type: .f32))
            }
        }
        do {
            try GGUFWriter.write(to: url, metadata: metadata, tensors: entries, overwrite: overwrite) { entry, stream in
                try matrices[entry.name, default: Matrix(zeros: 0, 0)].values.withUnsafeBytes { try stream.write($0) }
            }
        } catch {
            throw .writeFailed(path: path, reason: "\(error)")
        }
    }

    /// The FLOAT32 `adapter.lora.alpha` for which llama.cpp's `alpha / r` (float32) equals
    /// ``LoRAAdapterContents/scale``.
    ///
    /// Candidates in order: `lora_alpha` itself (standard rule), the float32 nearest `scale · r`, and its two
    /// neighbours; the first that divides back to `scale` exactly wins, else the nearest one.
    public static func storedAlpha(for contents: LoRAAdapterContents) -> Float {
        let scale = contents.scale
        let rank = contents.rank
        let nearest = Float(Double(scale) * Double(rank))
        var candidates = [nearest, nearest.nextDown, nearest.nextUp]
        if contents.scaling == .standard { candidates.insert(Float(contents.alpha), at: 0) }
        return candidates.first { LoRAAdapter.ggufScale(alpha: Double($0), rank: rank) == scale } ?? nearest
    }

    /// `b` with its rows in GGUF order: permuted for q (attention heads) and k (key/value heads) of an architecture
    /// whose base weights llama.cpp permutes, else as is.
    private static func ggufRows(
        of b: Matrix, weightName: String, hyperparameters: LlamaHyperparameters, path: String
    ) throws(AdapterWriteError) -> Matrix {
        guard let heads = hyperparameters.permutationHeads(forHF: weightName) else { return b }
        guard heads > 0, b.rows % heads == 0, (b.rows / heads) % 2 == 0 else {
            throw .unpermutableRows(path: path, tensor: weightName, rows: b.rows, heads: heads)
        }
        var permuted = b
        b.values.withUnsafeBytes { source in
            permuted.values.withUnsafeMutableBytes { destination in
                QKPermutation.permuteRows(
                    source, into: destination, heads: heads, rowByteCount: b.columns * MemoryLayout<Float>.size,
                    direction: .hfToGGUF)
            }
        }
        return permuted
    }
}
