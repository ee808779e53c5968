// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import QuailKit
import SafeTensors
import TensorCore
import Testing
import Transformer

private let smallDimensions: [LinearGroup: Int] = [
    .attentionInput: 3, .attentionOutput: 2, .feedForwardInput: 3, .feedForwardProduct: 5,
]

/// Writes a synthetic statistics file and returns its URL.
@discardableResult
private func writeStatistics(
    _ name: String, in directory: TemporaryDirectory, provenance: CalibrationProvenance,
    grams: [GramKey: DoubleMatrix]? = nil, gramSeed: UInt64 = 1
) throws -> URL {
    let url = directory.path(name)
    try CalibrationStatisticsFile.write(
        grams: grams ?? syntheticGrams(
            layers: provenance.layers, dimensions: smallDimensions, seed: gramSeed, integral: true),
        provenance: provenance, to: url)
    return url
}

/// Writes a safetensors file with `tensors` (name, dtype, shape; zero payload) and `metadata`.
private func writeRaw(
    _ url: URL, metadata: [String: String]?, tensors: [(String, DType, [Int])]
) throws {
    let entries = tensors.map { SafeTensorsWriter.Entry(name: $0.0, dtype: $0.1, shape: $0.2) }
    try SafeTensorsWriter.write(to: url, tensors: entries, metadata: metadata) { entry, stream in
        try stream.writeZeros(entry.shape.reduce(1, *) * entry.dtype.byteSize)
    }
}

/// The tensor list of a valid one-block file with ``smallDimensions``.
private func validTensors(layers: Int = 1) -> [(String, DType, [Int])] {
    (0..<layers).flatMap { layer in
        LinearGroup.allCases.map { group in
            let n = smallDimensions[group] ?? 0
            return (GramKey(layer: layer, group: group).tensorName, DType.f64, [n, n])
        }
    }
}

/// True when `error` is `invalidStatistics` for `path` whose reason contains `fragment`.
private func isInvalidStatistics(_ error: any Error, path: String, _ fragment: String) -> Bool {
    guard case .invalidStatistics(let found, let reason) = error as? CalibrationError else { return false }
    return found == path && reason.contains(fragment)
}

@Suite("Calibration statistics file")
struct CalibrationStatisticsTests {
    @Test("write then read gives back every Gram matrix bit for bit and the same provenance")
    func roundTrip() throws {
        let directory = try TemporaryDirectory()
        let provenance = try syntheticProvenance(shard: "2/3", seed: 0xFFFF_FFFF_FFFF_FFFF, layers: 2)
        var grams = syntheticGrams(layers: 2, dimensions: smallDimensions, seed: 3)
        let key = GramKey(layer: 1, group: .attentionOutput)
        grams[key]?.values = [-0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1 / 3]
        let url = try writeStatistics("stats.safetensors", in: directory, provenance: provenance, grams: grams)
        let file = try CalibrationStatisticsFile(contentsOf: url)
        #expect(file.provenance == provenance)
        for (key, h) in grams {
            #expect(file.dimension(of: key) == h.rows)
            let read = file.gram(key)
            #expect(read.rows == h.rows && read.columns == h.columns)
            #expect(read.values.map(\.bitPattern) == h.values.map(\.bitPattern), "\(key.tensorName)")
        }
        #expect(file.dimension(of: GramKey(layer: 2, group: .attentionInput)) == nil)
        // Deterministic bytes.
        let again = try writeStatistics("again.safetensors", in: directory, provenance: provenance, grams: grams)
        #expect(try Data(contentsOf: url) == Data(contentsOf: again))
    }

    @Test("writing with a block's Gram matrix missing fails and leaves nothing behind")
    func writeMissingGram() throws {
        let directory = try TemporaryDirectory()
        var grams = syntheticGrams(layers: 1, dimensions: smallDimensions, seed: 2)
        grams[GramKey(layer: 0, group: .feedForwardProduct)] = nil
        let url = directory.path("s.safetensors")
        #expect {
            try CalibrationStatisticsFile.write(grams: grams, provenance: try syntheticProvenance(), to: url)
        } throws: { isInvalidStatistics($0, path: url.path, "feed_forward_product") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).isEmpty)
    }

    @Test("merging shards of one run sums the matrices and the counts; the result is the whole shard")
    func mergeSynthetic() throws {
        let directory = try TemporaryDirectory()
        var parts: [URL] = []
        var expected: [GramKey: [Double]] = [:]
        for index in [3, 1, 2] {
            let grams = syntheticGrams(layers: 2, dimensions: smallDimensions, seed: UInt64(index), integral: true)
            for (key, h) in grams {
                let sum = expected[key].map { zip($0, h.values).map { $0 + $1 } } ?? h.values
                expected[key] = sum
            }
            parts.append(
                try writeStatistics(
                    "part\(index).safetensors", in: directory,
                    provenance: try syntheticProvenance(
                        shard: "\(index)/3", layers: 2, sequences: index, tokens: 8 * index),
                    grams: grams))
        }
        let output = directory.path("merged.safetensors")
        let provenance = try CalibrationStatisticsFile.merge(
            parts.map { try CalibrationStatisticsFile(contentsOf: $0) }, to: output)
        let merged = try CalibrationStatisticsFile(contentsOf: output)
        #expect(merged.provenance == provenance)
        #expect(provenance.shard == .whole)
        #expect(provenance.sequences == 6 && provenance.tokens == 48)
        #expect(provenance.sampler.seed == 5 && provenance.layers == 2)
        for (key, h) in expected { #expect(merged.gram(key).values == h, "\(key.tensorName)") }
    }

    @Test("a missing or duplicated shard is incompleteShards; nothing is written")
    func incompleteShards() throws {
        let directory = try TemporaryDirectory()
        let one = try writeStatistics("1.safetensors", in: directory, provenance: try syntheticProvenance(shard: "1/3"))
        let three = try writeStatistics(
            "3.safetensors", in: directory, provenance: try syntheticProvenance(shard: "3/3"))
        let oneAgain = try writeStatistics(
            "1b.safetensors", in: directory, provenance: try syntheticProvenance(shard: "1/3"), gramSeed: 9)
        let output = directory.path("merged.safetensors")
        let files = try [one, three, oneAgain].map { try CalibrationStatisticsFile(contentsOf: $0) }
        #expect(throws: CalibrationError.incompleteShards(count: 3, missing: [2], duplicated: [])) {
            try CalibrationStatisticsFile.merge([files[0], files[1]], to: output)
        }
        #expect(throws: CalibrationError.incompleteShards(count: 3, missing: [2], duplicated: [1])) {
            try CalibrationStatisticsFile.merge(files, to: output)
        }
        #expect(
            CalibrationError.incompleteShards(count: 3, missing: [2], duplicated: [1]).description.contains(
                "missing 2; duplicated 1"))
        #expect(throws: CalibrationError.incompleteShards(count: 0, missing: [], duplicated: [])) {
            try CalibrationStatisticsFile.merge([], to: output)
        }
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    @Test("parts from different seeds, models or shard counts are statisticsMismatch naming the part")
    func mismatchedParts() throws {
        let directory = try TemporaryDirectory()
        let first = try writeStatistics(
            "a.safetensors", in: directory, provenance: try syntheticProvenance(shard: "1/2"))
        let output = directory.path("merged.safetensors")
        for (name, provenance, field) in [
            ("seed.safetensors", try syntheticProvenance(shard: "2/2", seed: 6), "seed"),
            ("model.safetensors", try syntheticProvenance(shard: "2/2", modelDigest: "m1"), "model_digest"),
            ("count.safetensors", try syntheticProvenance(shard: "2/3"), "shard count"),
        ] {
            let second = try writeStatistics(name, in: directory, provenance: provenance)
            let files = try [first, second].map { try CalibrationStatisticsFile(contentsOf: $0) }
            #expect {
                try CalibrationStatisticsFile.merge(files, to: output)
            } throws: { error in
                guard case .statisticsMismatch(let path, let found, _, _) = error as? CalibrationError else {
                    return false
                }
                return path == second.path && found == field
            }
        }
        // Same run identity, different matrix orders.
        var grams = syntheticGrams(layers: 1, dimensions: smallDimensions, seed: 4)
        grams[GramKey(layer: 0, group: .attentionOutput)] = DoubleMatrix(zeros: 4, 4)
        let shaped = try writeStatistics(
            "shape.safetensors", in: directory, provenance: try syntheticProvenance(shard: "2/2"), grams: grams)
        #expect {
            try CalibrationStatisticsFile.merge(
                [first, shaped].map { try CalibrationStatisticsFile(contentsOf: $0) }, to: output)
        } throws: { error in
            guard case .statisticsMismatch(let path, let field, _, _) = error as? CalibrationError else { return false }
            return path == shaped.path && field.contains("attention_output")
        }
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    @Test("a safetensors file without Quail metadata, with a missing, extra or non-F64 tensor is invalidStatistics")
    func invalidFiles() throws {
        let directory = try TemporaryDirectory()
        let metadata = try syntheticProvenance().metadata
        let valid = validTensors()

        let plain = directory.path("plain.safetensors")
        try writeRaw(plain, metadata: nil, tensors: valid)
        #expect { try CalibrationStatisticsFile(contentsOf: plain) } throws: {
            isInvalidStatistics($0, path: plain.path, "quail-calibration-statistics")
        }

        let missing = directory.path("missing.safetensors")
        try writeRaw(missing, metadata: metadata, tensors: valid.filter { !$0.0.contains("attention_output") })
        #expect { try CalibrationStatisticsFile(contentsOf: missing) } throws: {
            isInvalidStatistics($0, path: missing.path, "model.layers.0.attention_output.gram is missing")
        }

        let f32 = directory.path("f32.safetensors")
        try writeRaw(
            f32, metadata: metadata, tensors: valid.map { ($0.0, $0.0.contains("product") ? .f32 : $0.1, $0.2) })
        #expect { try CalibrationStatisticsFile(contentsOf: f32) } throws: {
            isInvalidStatistics($0, path: f32.path, "model.layers.0.feed_forward_product.gram")
        }

        let rectangular = directory.path("rect.safetensors")
        try writeRaw(
            rectangular, metadata: metadata,
            tensors: valid.map { ($0.0, $0.1, $0.0.contains("attention_input") ? [3, 2] : $0.2) })
        #expect { try CalibrationStatisticsFile(contentsOf: rectangular) } throws: {
            isInvalidStatistics($0, path: rectangular.path, "square F64")
        }

        let extra = directory.path("extra.safetensors")
        try writeRaw(extra, metadata: metadata, tensors: valid + validTensors(layers: 2).suffix(1))
        #expect { try CalibrationStatisticsFile(contentsOf: extra) } throws: {
            isInvalidStatistics($0, path: extra.path, "unexpected tensor model.layers.1.feed_forward_product.gram")
        }
    }

    @Test("malformed metadata values are invalidStatistics naming the key")
    func invalidMetadata() throws {
        let directory = try TemporaryDirectory()
        let metadata = try syntheticProvenance().metadata
        for (key, value, fragment) in [
            ("format_version", "2", "format_version"), ("seed", "-1", "seed"), ("shard", "4/3", "shard"),
            ("samples", "0", "samples"), ("seq_len", "1", "seq_len"), ("layers", "x", "layers"),
            ("data_files", "{\"a\": 1}", "data_files"), ("model_digest", "", "model_digest"),
        ] {
            var changed = metadata
            changed[key] = value
            let url = directory.path("\(key).safetensors")
            try writeRaw(url, metadata: changed, tensors: validTensors())
            #expect { try CalibrationStatisticsFile(contentsOf: url) } throws: {
                isInvalidStatistics($0, path: url.path, fragment)
            }
        }
    }

    @Test("check() accepts the model's statistics and rejects another model, tokenizer, block count or order")
    func check() throws {
        let directory = try TemporaryDirectory()
        let configuration = try CheckpointWeights(contentsOf: tinyLlamaURL).configuration
        let provenance = try syntheticProvenance(layers: 2)
        let url = directory.path("stats.safetensors")
        try CalibrationStatisticsFile.write(
            grams: syntheticGrams(layers: 2, dimensions: tinyLlamaDimensions, seed: 1), provenance: provenance, to: url)
        let file = try CalibrationStatisticsFile(contentsOf: url)
        try file.check(configuration: configuration, modelDigest: "m0", tokenizerDigest: "t0")

        func field(_ body: () throws -> Void) -> String? {
            do { try body() } catch let error as CalibrationError {
                if case .statisticsMismatch(let path, let field, _, _) = error, path == url.path { return field }
            } catch {}
            return nil
        }
        let model = field { try file.check(configuration: configuration, modelDigest: "m1", tokenizerDigest: "t0") }
        #expect(model?.contains("model digest") == true)
        let tokenizer = field { try file.check(configuration: configuration, modelDigest: "m0", tokenizerDigest: "t9") }
        #expect(tokenizer?.contains("tokenizer digest") == true)
        var deeper = configuration
        deeper.layerCount = 3
        #expect(field { try file.check(configuration: deeper, modelDigest: "m0", tokenizerDigest: "t0") } == "layers")
        var wider = configuration
        wider.intermediateSize = 96
        #expect(
            field { try file.check(configuration: wider, modelDigest: "m0", tokenizerDigest: "t0") }
                == "model.layers.0.feed_forward_product.gram order")
    }

    @Test("fewer sampled tokens per Gram dimension than the minimum is tooFewTokens before any work")
    func tooFewTokens() throws {
        let weights = try CheckpointWeights(contentsOf: tinyLlamaURL)
        let data = try CalibrationData(urls: [calibrationTextURL])
        // The largest Gram matrix of tiny-llama is down_proj's input, intermediate size 128.
        #expect(throws: CalibrationError.tooFewTokens(tokens: 4 * 16, dimension: 128, minimumPerDimension: 1)) {
            try CalibrationRun.run(
                weights, data: data, options: .init(sampler: .init(samples: 4, sequenceLength: 16), threadCount: 1))
        }
        #expect(throws: CalibrationError.tooFewTokens(tokens: 6 * 32, dimension: 128, minimumPerDimension: 2)) {
            try CalibrationRun.run(
                weights, data: data,
                options: .init(sampler: smallSampler, minimumTokensPerDimension: 2, threadCount: 1))
        }
        #expect {
            try CalibrationRun.run(
                weights, data: data, options: .init(sampler: smallSampler, minimumTokensPerDimension: -1))
        } throws: { error in
            guard case .invalidSetting(let name, _, _) = error as? CalibrationError else { return false }
            return name == "--min-tokens-per-dim"
        }
    }

    @Test("the shards of a calibration run on tiny-llama merge to the single run within 1e-12")
    func shardsMergeToSingleRun() throws {
        let directory = try TemporaryDirectory()
        let whole = try FixtureCalibration.shared.result()
        let weights = try CheckpointWeights(contentsOf: tinyLlamaURL)
        #expect(whole.provenance.sequences == 6)
        #expect(whole.provenance.tokens == 6 * 32)
        #expect(whole.provenance.modelDigest == (try CheckpointDigest.model(at: tinyLlamaURL)))
        #expect(whole.provenance.tokenizerDigest == CheckpointDigest.tokenizer(try weights.tokenizerMetadata()))
        #expect(whole.provenance.dataFiles == ["calibration.txt"])
        #expect(abs(whole.tokensPerDimension - 192.0 / 128.0) < 1e-12)
        #expect(whole.grams.count == 8)

        var parts: [CalibrationStatisticsFile] = []
        for index in 1...3 {
            let shard = try CalibrationShard(parsing: "\(index)/3")
            let result = try CalibrationRun.run(
                weights, data: try CalibrationData(urls: [calibrationTextURL]),
                options: .init(sampler: smallSampler, shard: shard, threadCount: 1))
            #expect(result.provenance.sequences == 2 && result.provenance.tokens == 64)
            let url = directory.path("part\(index).safetensors")
            try CalibrationStatisticsFile.write(grams: result.grams, provenance: result.provenance, to: url)
            parts.append(try CalibrationStatisticsFile(contentsOf: url))
        }
        let mergedURL = directory.path("merged.safetensors")
        let provenance = try CalibrationStatisticsFile.merge(parts.reversed(), to: mergedURL)
        #expect(provenance == whole.provenance)
        let merged = try CalibrationStatisticsFile(contentsOf: mergedURL)
        try merged.check(
            configuration: weights.configuration, modelDigest: whole.provenance.modelDigest,
            tokenizerDigest: whole.provenance.tokenizerDigest)
        for (key, h) in whole.grams {
            let difference = relativeDifference(merged.gram(key), h)
            #expect(difference <= 1e-12, "\(key.tensorName): \(difference)")
        }
    }
}
