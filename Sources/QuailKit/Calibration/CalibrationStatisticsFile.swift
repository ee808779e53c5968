// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import SafeTensors
import TensorCore
import Transformer

/// A calibration-statistics file (formats/calibration-stats.md): one float64 Gram matrix per linear input of every
/// block, with ``CalibrationProvenance`` as safetensors metadata. Read through a memory mapping, one matrix at a
/// time.
public final class CalibrationStatisticsFile: @unchecked Sendable {
    /// The file.
    public let url: URL
    /// Where the statistics came from.
    public let provenance: CalibrationProvenance
    private let file: SafeTensorsFile
    private let tensors: [GramKey: SafeTensorsTensorInfo]

    /// Opens and checks a statistics file: its metadata, and exactly the tensors `model.layers.<i>.<group>.gram`
    /// for every block and group, each a square F64 matrix (orders are checked against a model by
    /// ``check(configuration:modelDigest:tokenizerDigest:)``).
    ///
    /// - Throws: ``CalibrationError/invalidStatistics(path:reason:)``, or the safetensors reader's error.
    public init(contentsOf url: URL) throws {
        let file = try SafeTensorsFile(contentsOf: url)
        let provenance = try CalibrationProvenance(metadata: file.metadata, path: url.path)
        let keys = (0..<provenance.layers).flatMap { layer in
            LinearGroup.allCases.map { GramKey(layer: layer, group: $0) }
        }
        var tensors: [GramKey: SafeTensorsTensorInfo] = [:]
        for key in keys {
            guard let info = file[key.tensorName] else {
                throw CalibrationError.invalidStatistics(path: url.path, reason: "tensor \(key.tensorName) is missing")
            }
            guard info.dtype == .f64, info.shape.count == 2, info.shape[0] == info.shape[1], info.shape[0] > 0 else {
                throw CalibrationError.invalidStatistics(
                    path: url.path,
                    reason:
                        "tensor \(key.tensorName) is \(info.dtype.rawValue) \(info.shape), expected a square F64 matrix"
                )
            }
            tensors[key] = info
        }
        if let extra = file.tensors.first(where: { info in !keys.contains { $0.tensorName == info.name } }) {
            throw CalibrationError.invalidStatistics(path: url.path, reason: "unexpected tensor \(extra.name)")
        }
        self.url = url
        self.provenance = provenance
        self.file = file
        self.tensors = tensors
    }

    /// The order of the Gram matrix for `key`.
    public func dimension(of key: GramKey) -> Int? { tensors[key]?.shape[0] }

    /// The Gram matrix for `key`, copied out of the mapping.
    ///
    /// Traps if `key` is outside the file's blocks (callers check ``provenance`` first).
    public func gram(_ key: GramKey) -> DoubleMatrix {
        guard let info = tensors[key] else { preconditionFailure("no Gram matrix \(key.tensorName)") }
        let n = info.shape[0]
        var h = DoubleMatrix(zeros: n, n)
        h.values.withUnsafeMutableBytes { target in target.copyMemory(from: file.bytes(of: info)) }
        return h
    }

    /// Checks that these statistics were computed for `model`: block count and Gram orders from its
    /// configuration, and the model and tokenizer digests.
    ///
    /// - Throws: ``CalibrationError/statisticsMismatch(path:field:expected:actual:)``.
    public func check(
        configuration: LlamaConfiguration, modelDigest: String, tokenizerDigest: String
    ) throws(CalibrationError) {
        guard provenance.layers == configuration.layerCount else {
            throw .statisticsMismatch(
                path: url.path, field: "layers", expected: "\(configuration.layerCount)",
                actual: "\(provenance.layers)")
        }
        for (key, info) in tensors.sorted(by: { $0.key < $1.key }) {
            let expected = key.group.inputDimension(configuration)
            guard info.shape[0] == expected else {
                throw .statisticsMismatch(
                    path: url.path, field: key.tensorName + " order", expected: "\(expected)",
                    actual: "\(info.shape[0])")
            }
        }
        guard provenance.tokenizerDigest == tokenizerDigest else {
            throw .statisticsMismatch(
                path: url.path, field: "tokenizer digest (statistics from another tokenizer)",
                expected: tokenizerDigest, actual: provenance.tokenizerDigest)
        }
        guard provenance.modelDigest == modelDigest else {
            throw .statisticsMismatch(
                path: url.path, field: "model digest (statistics from another model)", expected: modelDigest,
                actual: provenance.modelDigest)
        }
    }

    /// Writes statistics atomically: every Gram matrix of `grams` as F64 (data in the safetensors writer's name
    /// order).
    ///
    /// - Throws: ``CalibrationError/invalidStatistics(path:reason:)`` when a block or group is missing, or the
    ///   writer's error; nothing is left at `url` on failure.
    public static func write(
        grams: [GramKey: DoubleMatrix], provenance: CalibrationProvenance, to url: URL, overwrite: Bool = false
    ) throws {
        try write(
            dimensions: grams.mapValues(\.rows), provenance: provenance, to: url, overwrite: overwrite
        ) { key in
            guard let h = grams[key] else { preconditionFailure("checked above") }
            return h
        }
    }

    /// Sums partial statistics (shards of one run) into one file, matrix by matrix, in shard order.
    ///
    /// - Throws: ``CalibrationError/incompleteShards(count:missing:duplicated:)`` unless the parts are shards
    ///   `1…N` of one `N`, each once; ``CalibrationError/statisticsMismatch(path:field:expected:actual:)`` when
    ///   they come from different models, tokenizers, data or sampler settings; the writer's error.
    /// - Returns: the provenance of the merged file.
    @discardableResult
    public static func merge(
        _ parts: [CalibrationStatisticsFile], to url: URL, overwrite: Bool = false
    ) throws -> CalibrationProvenance {
        guard let first = parts.first else {
            throw CalibrationError.incompleteShards(count: 0, missing: [], duplicated: [])
        }
        for part in parts.dropFirst() {
            for ((name, expected), (_, actual)) in zip(first.provenance.runIdentity, part.provenance.runIdentity)
            where expected != actual {
                throw CalibrationError.statisticsMismatch(
                    path: part.url.path, field: name, expected: expected + " (as in \(first.url.path))",
                    actual: actual)
            }
        }
        let count = first.provenance.shard.count
        let indices = parts.map(\.provenance.shard.index)
        let missing = (1...count).filter { !indices.contains($0) }
        let duplicated = Set(indices.filter { index in indices.filter { $0 == index }.count > 1 }).sorted()
        guard missing.isEmpty, duplicated.isEmpty else {
            throw CalibrationError.incompleteShards(count: count, missing: missing, duplicated: duplicated)
        }
        let ordered = parts.sorted { $0.provenance.shard.index < $1.provenance.shard.index }
        var provenance = first.provenance
        provenance.shard = .whole
        provenance.sequences = ordered.reduce(0) { $0 + $1.provenance.sequences }
        provenance.tokens = ordered.reduce(0) { $0 + $1.provenance.tokens }
        for part in ordered {
            for (key, info) in part.tensors where info.shape != first.tensors[key]?.shape {
                throw CalibrationError.statisticsMismatch(
                    path: part.url.path, field: key.tensorName + " shape",
                    expected: "\(first.tensors[key]?.shape ?? [])", actual: "\(info.shape)")
            }
        }
        try write(
            dimensions: first.tensors.mapValues { $0.shape[0] }, provenance: provenance, to: url, overwrite: overwrite
        ) {
            key in
            var sum = ordered[0].gram(key)
            for part in ordered.dropFirst() {
                let h = part.gram(key)
                for i in sum.values.indices { sum.values[i] += h.values[i] }
            }
            return sum
        }
        return provenance
    }

    /// Writes one file whose matrices come from `matrix`, called once per key in the file's data order.
    private static func write(
        dimensions: [GramKey: Int], provenance: CalibrationProvenance, to url: URL, overwrite: Bool,
        matrix: (GramKey) throws -> DoubleMatrix
    ) throws {
        let keys = (0..<provenance.layers).flatMap { layer in
            LinearGroup.allCases.map { GramKey(layer: layer, group: $0) }
        }
        let entries = try keys.map { key in
            guard let n = dimensions[key] else {
                throw CalibrationError.invalidStatistics(path: url.path, reason: "no Gram matrix for \(key.tensorName)")
            }
            return SafeTensorsWriter.Entry(name: key.tensorName, dtype: .f64, shape: [n, n])
        }
        let byName = Dictionary(uniqueKeysWithValues: keys.map { ($0.tensorName, $0) })
        try SafeTensorsWriter.write(
            to: url, tensors: entries, metadata: provenance.metadata, overwrite: overwrite
        ) { entry, stream in
            guard let key = byName[entry.name] else { preconditionFailure("entry without key") }
            let h = try matrix(key)
            try h.values.withUnsafeBytes { try stream.write($0) }
        }
    }
}

extension LinearGroup {
    /// The number of input features of the group's layers.
    public func inputDimension(_ configuration: LlamaConfiguration) -> Int {
        switch self {
        case .attentionInput, .feedForwardInput: configuration.hiddenSize
        case .attentionOutput: configuration.queryWidth
        case .feedForwardProduct: configuration.intermediateSize
        }
    }
}
