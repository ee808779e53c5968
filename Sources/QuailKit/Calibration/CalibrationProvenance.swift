// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Where calibration statistics came from: stored as the `__metadata__` of a statistics file
/// (formats/calibration-stats.md).
public struct CalibrationProvenance: Equatable, Sendable {
    /// ``CheckpointDigest/model(at:)`` of the model that ran.
    public var modelDigest: String
    /// ``CheckpointDigest/tokenizer(_:)`` of its tokenizer.
    public var tokenizerDigest: String
    /// ``CalibrationData/digest`` of the text.
    public var dataDigest: String
    /// The calibration file names (last path components), in order.
    public var dataFiles: [String]
    /// The JSONL field, if any file was JSONL.
    public var field: String?
    /// The sampler settings of the whole run.
    public var sampler: CalibrationSamplerSettings
    /// The share of the samples these statistics hold (``CalibrationShard/whole`` after a merge).
    public var shard: CalibrationShard
    /// Sequences summed.
    public var sequences: Int
    /// Token rows summed into every Gram matrix.
    public var tokens: Int
    /// Layers (blocks) of the model.
    public var layers: Int

    /// The format version written in files.
    public static let formatVersion = "1"

    /// Creates a provenance record.
    public init(
        modelDigest: String, tokenizerDigest: String, dataDigest: String, dataFiles: [String], field: String?,
        sampler: CalibrationSamplerSettings, shard: CalibrationShard, sequences: Int, tokens: Int, layers: Int
    ) {
        self.modelDigest = modelDigest
        self.tokenizerDigest = tokenizerDigest
        self.dataDigest = dataDigest
        self.dataFiles = dataFiles
        self.field = field
        self.sampler = sampler
        self.shard = shard
        self.sequences = sequences
        self.tokens = tokens
        self.layers = layers
    }

    /// The safetensors `__metadata__` map.
    public var metadata: [String: String] {
        var map = [
            "format": "quail-calibration-statistics", "format_version": Self.formatVersion,
            "quail_version": QuailVersion.string, "model_digest": modelDigest, "tokenizer_digest": tokenizerDigest,
            "data_digest": dataDigest,
            "data_files": JSONValue.array(dataFiles.map { .string($0) }).text(indent: nil),
            "samples": "\(sampler.samples)", "seq_len": "\(sampler.sequenceLength)", "seed": "\(sampler.seed)",
            "shard": shard.description, "sequences": "\(sequences)", "tokens": "\(tokens)", "layers": "\(layers)",
        ]
        if let field { map["field"] = field }
        return map
    }

    /// Reads the metadata of a statistics file.
    ///
    /// - Throws: ``CalibrationError/invalidStatistics(path:reason:)`` naming the missing or malformed key.
    public init(metadata: [String: String]?, path: String) throws(CalibrationError) {
        guard let metadata, metadata["format"] == "quail-calibration-statistics" else {
            throw .invalidStatistics(path: path, reason: "__metadata__ lacks format quail-calibration-statistics")
        }
        func string(_ key: String) throws(CalibrationError) -> String {
            guard let value = metadata[key], !value.isEmpty else {
                throw .invalidStatistics(path: path, reason: "__metadata__ lacks \(key)")
            }
            return value
        }
        func integer(_ key: String, minimum: Int) throws(CalibrationError) -> Int {
            let text = try string(key)
            guard let value = Int(text), value >= minimum else {
                throw .invalidStatistics(path: path, reason: "\(key) \(text) is not an integer ≥ \(minimum)")
            }
            return value
        }
        guard try string("format_version") == Self.formatVersion else {
            throw .invalidStatistics(
                path: path, reason: "format_version \(metadata["format_version"] ?? "") is not \(Self.formatVersion)")
        }
        let files = try string("data_files")
        guard let list = try? JSONValue(parsing: Data(files.utf8)).arrayValue,
            case let names = list.compactMap(\.stringValue), names.count == list.count
        else {
            throw .invalidStatistics(path: path, reason: "data_files is not a JSON array of strings")
        }
        guard let seed = UInt64(try string("seed")) else {
            throw .invalidStatistics(path: path, reason: "seed is not an unsigned integer")
        }
        let shard: CalibrationShard
        do { shard = try CalibrationShard(parsing: try string("shard")) } catch {
            throw .invalidStatistics(path: path, reason: "shard \(metadata["shard"] ?? "") is not i/N")
        }
        self.init(
            modelDigest: try string("model_digest"), tokenizerDigest: try string("tokenizer_digest"),
            dataDigest: try string("data_digest"), dataFiles: names, field: metadata["field"],
            sampler: CalibrationSamplerSettings(
                samples: try integer("samples", minimum: 1), sequenceLength: try integer("seq_len", minimum: 2),
                seed: seed),
            shard: shard, sequences: try integer("sequences", minimum: 0), tokens: try integer("tokens", minimum: 0),
            layers: try integer("layers", minimum: 1))
    }

    /// The fields that must agree between partial statistics of one run, as (name, value) pairs.
    var runIdentity: [(String, String)] {
        [
            ("model_digest", modelDigest), ("tokenizer_digest", tokenizerDigest), ("data_digest", dataDigest),
            ("samples", "\(sampler.samples)"), ("seq_len", "\(sampler.sequenceLength)"), ("seed", "\(sampler.seed)"),
            ("layers", "\(layers)"), ("shard count", "\(shard.count)"),
            ("data_files", dataFiles.joined(separator: ", ")), ("field", field ?? "(none)"),
        ]
    }
}
