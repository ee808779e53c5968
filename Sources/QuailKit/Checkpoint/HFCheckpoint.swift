// SPDX-License-Identifier: Apache-2.0
import Foundation
import SafeTensors
import TensorCore

/// An HF llama-family checkpoint directory: `config.json`, safetensors weights (single or sharded),
/// `tokenizer.json` and `tokenizer_config.json`.
public struct HFCheckpoint: Sendable {
    /// The directory.
    public let directory: URL
    /// Parsed `config.json`.
    public let config: JSONValue
    /// Hyperparameters from `config.json`.
    public let hyperparameters: LlamaHyperparameters
    /// The weights.
    public let weights: SafeTensorsCheckpoint
    /// Parsed `tokenizer.json`, if present.
    public let tokenizerJSON: JSONValue?
    /// Parsed `tokenizer_config.json`, if present.
    public let tokenizerConfig: JSONValue?

    /// Opens a checkpoint directory, validating `config.json` and every safetensors header.
    ///
    /// - Throws: ``CheckpointError`` for side files, ``SafeTensorsError`` for weights.
    public init(directory: URL) throws {
        self.directory = directory
        config = try Self.readJSON(directory.appendingPathComponent("config.json"))
        hyperparameters = try LlamaHyperparameters(
            configJSON: config, path: directory.appendingPathComponent("config.json").path)
        weights = try SafeTensorsCheckpoint(directory: directory)
        let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
        tokenizerJSON = FileManager.default.fileExists(atPath: tokenizerURL.path) ? try Self.readJSON(tokenizerURL) : nil
        let tokenizerConfigURL = directory.appendingPathComponent("tokenizer_config.json")
        tokenizerConfig =
            FileManager.default.fileExists(atPath: tokenizerConfigURL.path) ? try Self.readJSON(tokenizerConfigURL) : nil
    }

    /// The byte-level BPE tokenizer of the checkpoint.
    ///
    /// - Throws: ``CheckpointError/missingFile(path:)`` without `tokenizer.json`, or its parse errors.
    public func tokenizer() throws(CheckpointError) -> BPETokenizerMetadata {
        let path = directory.appendingPathComponent("tokenizer.json").path
        guard let tokenizerJSON else { throw .missingFile(path: path) }
        return try BPETokenizerMetadata(
            tokenizer: tokenizerJSON, tokenizerPath: path, config: tokenizerConfig, hparams: hyperparameters)
    }

    /// Checks that the weights are exactly the tensors the hyperparameters imply, with the right shapes.
    ///
    /// - Throws: ``CheckpointError/missingTensors(path:names:)``, ``CheckpointError/unexpectedTensors(path:names:)``
    ///   or ``CheckpointError/shapeMismatch(path:tensor:expected:actual:)``.
    public func validateTensors() throws(CheckpointError) {
        try Self.validateTensors(names: weights.tensorNames, hyperparameters: hyperparameters, directory: directory) {
            weights.locate($0).map { ($0.file.url.path, $0.info.shape) }
        }
    }

    /// Checks that `names` are exactly the tensors `hyperparameters` imply and that `locate` (the file holding a
    /// tensor and its logical shape) gives each the shape they imply; shared by the float and bitsandbytes readers.
    static func validateTensors(
        names: [String], hyperparameters: LlamaHyperparameters, directory: URL,
        locate: (String) -> (path: String, shape: [Int])?
    ) throws(CheckpointError) {
        let expected = LlamaTensorNames.expectedHFNames(for: hyperparameters)
        let present = Set(names)
        let missing = expected.filter { !present.contains($0) }
        guard missing.isEmpty else { throw .missingTensors(path: directory.path, names: missing) }
        let expectedSet = Set(expected)
        let extra = names.filter { !expectedSet.contains($0) }
        guard extra.isEmpty else { throw .unexpectedTensors(path: directory.path, names: extra) }
        for name in expected {
            guard let (path, actual) = locate(name), let role = LlamaTensorNames.role(ofHF: name) else { continue }
            let shape = LlamaTensorNames.expectedShape(of: role.role, for: hyperparameters)
            guard actual == shape else {
                throw .shapeMismatch(path: path, tensor: name, expected: shape, actual: actual)
            }
        }
    }

    /// Reads and parses a JSON side file.
    static func readJSON(_ url: URL) throws(CheckpointError) -> JSONValue {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw .missingFile(path: url.path) }
        do {
            return try JSONValue(parsing: data)
        } catch {
            throw .invalidJSON(path: url.path, reason: "\(error)")
        }
    }
}
