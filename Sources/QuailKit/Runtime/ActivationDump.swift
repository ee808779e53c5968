// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore
import Transformer

/// Writes the activations of one forward pass as `.npy` files, for checking the runtime against a reference
/// implementation (`quail eval --dump-activations DIR`).
///
/// Files (float32, C order): `hidden-00.npy` the token embeddings `(T, C)`, `hidden-NN.npy` the residual stream after
/// block `NN−1`, `final-norm.npy` after the final RMSNorm, and `logits.npy` `(T, V)`. These are the tensors
/// transformers returns as `hidden_states` (whose last entry is the final-norm output) and `logits`.
public enum ActivationDump {
    /// Runs `tokens` as one sequence (positions `0..<T`, no BOS added) and writes the files into `directory`, which
    /// appears only when complete, with `adapter` merged into the weights when given. Returns the file names written.
    ///
    /// - Throws: ``EvaluationError/tokenOutOfRange(path:index:token:vocabularySize:)``, decoding or file errors.
    @discardableResult
    public static func write(
        _ weights: CheckpointWeights, tokens: [Int], source: String, to directory: URL, overwrite: Bool = false,
        adapter: LoRAAdapter? = nil
    ) throws -> [String] {
        let c = weights.configuration
        guard !tokens.isEmpty else { throw EvaluationError.emptyText(path: source) }
        if let index = tokens.firstIndex(where: { $0 >= c.vocabSize }) {
            throw EvaluationError.tokenOutOfRange(
                path: source, index: index, token: tokens[index], vocabularySize: c.vocabSize)
        }
        let output = try AtomicOutput(destination: directory, isDirectory: true, overwrite: overwrite)
        let recorder = HiddenStateRecorder()
        let source = AdaptedWeights(base: weights, adapter: adapter)
        let logits = try LlamaModel(configuration: c, source: source, residency: .streamed)
            .forward(tokens: tokens, observer: recorder)
        var files: [(String, [Float], [Int])] = recorder.states.map { stage, values in
            switch stage {
            case .embeddings: ("hidden-00.npy", values, [tokens.count, c.hiddenSize])
            case .afterLayer(let l): (String(format: "hidden-%02d.npy", l + 1), values, [tokens.count, c.hiddenSize])
            case .finalNorm: ("final-norm.npy", values, [tokens.count, c.hiddenSize])
            }
        }
        files.append(("logits.npy", logits.values, [logits.rows, logits.columns]))
        for (name, values, shape) in files {
            let url = output.temporaryURL.appendingPathComponent(name)
            guard
                FileManager.default.createFile(
                    atPath: url.path, contents: NumPyArrayFile.data(float32: values, shape: shape))
            else { throw FileAccessError(path: url.path, operation: "create", code: errno) }
        }
        try output.commit()
        return files.map(\.0)
    }
}

/// Copies every hidden state of a forward pass.
private final class HiddenStateRecorder: ActivationObserving {
    var states: [(HiddenState.Stage, [Float])] = []

    func observe(_ input: LinearInput) {}

    func observe(_ state: HiddenState) {
        states.append((state.stage, Array(state.values)))
    }
}
