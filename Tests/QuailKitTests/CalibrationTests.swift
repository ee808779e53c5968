// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import Packaging
import QuailKit
import TensorCore
import Testing
import Transformer

/// A token stream whose token at position `p` is `1000 + p`, so a sample's tokens name their positions.
private let positionStream = (0..<500).map { 1000 + $0 }

@Suite("Calibration sampler")
struct CalibrationSamplerTests {
    private let noBOS = BOSPolicy(addsBOS: false, bosID: nil)

    @Test("starts are SplitMix64 outputs mod (n − L + 1), the tokens are the stream slice, and a seed repeats")
    func startsFollowSplitMix64() throws {
        let settings = CalibrationSamplerSettings(samples: 40, sequenceLength: 17, seed: 0xC0FFEE)
        let samples = try CalibrationSampler.samples(
            from: positionStream, bos: noBOS, settings: settings, paths: ["s.txt"])
        var generator = SplitMix64(seed: 0xC0FFEE)
        let span = UInt64(positionStream.count - 17 + 1)
        #expect(samples.count == 40)
        for (k, sample) in samples.enumerated() {
            let start = Int(generator.next() % span)
            #expect(sample.number == k)
            #expect(sample.start == start)
            #expect(sample.start >= 0 && sample.start + 17 <= positionStream.count)
            #expect(sample.tokens == Array((1000 + start)..<(1000 + start + 17)))
        }
        let again = try CalibrationSampler.samples(
            from: positionStream, bos: noBOS, settings: settings, paths: ["s.txt"])
        #expect(again == samples)
    }

    @Test("different seeds draw different starts")
    func seedsDiffer() throws {
        let starts = try [1, 2, 3].map { seed in
            try CalibrationSampler.samples(
                from: positionStream, bos: noBOS,
                settings: .init(samples: 20, sequenceLength: 8, seed: UInt64(seed)), paths: ["s.txt"]
            ).map(\.start)
        }
        #expect(starts[0] != starts[1])
        #expect(starts[1] != starts[2])
        #expect(starts[0] != starts[2])
    }

    @Test("with BOS, every sample is BOS then L − 1 stream tokens, drawn from n − L + 2 starts")
    func bosPrefix() throws {
        let settings = CalibrationSamplerSettings(samples: 30, sequenceLength: 12, seed: 9)
        let samples = try CalibrationSampler.samples(
            from: positionStream, bos: BOSPolicy(addsBOS: true, bosID: 7), settings: settings, paths: ["s.txt"])
        var generator = SplitMix64(seed: 9)
        let span = UInt64(positionStream.count - 11 + 1)
        for sample in samples {
            let start = Int(generator.next() % span)
            #expect(sample.tokens.count == 12)
            #expect(sample.tokens.first == 7)
            #expect(Array(sample.tokens.dropFirst()) == Array((1000 + start)..<(1000 + start + 11)))
        }
        // A BOS policy without a BOS id adds nothing.
        let plain = try CalibrationSampler.samples(
            from: positionStream, bos: BOSPolicy(addsBOS: true, bosID: nil), settings: settings, paths: ["s.txt"])
        #expect(plain.allSatisfy { $0.tokens.count == 12 && $0.tokens.first != 7 })
    }

    @Test("shards 1/N … N/N partition the run: disjoint, complete, k in shard (k mod N) + 1, same tokens")
    func shardsPartition() throws {
        let settings = CalibrationSamplerSettings(samples: 23, sequenceLength: 10, seed: 4)
        let whole = try CalibrationSampler.samples(
            from: positionStream, bos: BOSPolicy(addsBOS: true, bosID: 3), settings: settings, paths: ["s.txt"])
        for count in [1, 3, 5] {
            var seen: [Int] = []
            for index in 1...count {
                let shard = try CalibrationShard(parsing: "\(index)/\(count)")
                let part = try CalibrationSampler.samples(
                    from: positionStream, bos: BOSPolicy(addsBOS: true, bosID: 3), settings: settings,
                    shard: shard, paths: ["s.txt"])
                for sample in part {
                    #expect(sample.number % count + 1 == index)
                    #expect(sample == whole[sample.number])
                }
                seen += part.map(\.number)
            }
            #expect(seen.count == 23)
            #expect(Set(seen) == Set(0..<23))
        }
    }

    @Test("a stream shorter than one sample is textTooShort naming the files")
    func textTooShort() {
        #expect(throws: CalibrationError.textTooShort(paths: ["a.txt", "b.txt"], tokens: 5, needed: 6)) {
            try CalibrationSampler.samples(
                from: [1, 2, 3, 4, 5], bos: noBOS, settings: .init(samples: 1, sequenceLength: 6),
                paths: ["a.txt", "b.txt"])
        }
        #expect(throws: CalibrationError.textTooShort(paths: ["a.txt"], tokens: 5, needed: 6)) {
            try CalibrationSampler.samples(
                from: [1, 2, 3, 4, 5], bos: BOSPolicy(addsBOS: true, bosID: 0),
                settings: .init(samples: 1, sequenceLength: 7), paths: ["a.txt"])
        }
        // Exactly one sample's worth is enough: the only start is 0.
        let exact = try? CalibrationSampler.samples(
            from: [1, 2, 3, 4, 5], bos: noBOS, settings: .init(samples: 3, sequenceLength: 5), paths: ["a.txt"])
        #expect(exact?.map(\.start) == [0, 0, 0])
    }

    @Test("samples 0, seq-len 1 and malformed shards are invalidSetting")
    func invalidSettings() {
        for (settings, name) in [
            (CalibrationSamplerSettings(samples: 0, sequenceLength: 8), "--samples"),
            (CalibrationSamplerSettings(samples: -3, sequenceLength: 8), "--samples"),
            (CalibrationSamplerSettings(samples: 4, sequenceLength: 1), "--seq-len"),
        ] {
            #expect {
                try CalibrationSampler.samples(from: positionStream, bos: noBOS, settings: settings, paths: ["s"])
            } throws: { error in
                guard case .invalidSetting(let found, _, _) = error as? CalibrationError else { return false }
                return found == name
            }
        }
        for text in ["0/3", "4/3", "x", "1/0", "1/", "/3", "1/3/2", "-1/3"] {
            let expected = CalibrationError.invalidSetting(
                name: "--shard", value: text, rule: "expected i/N with 1 ≤ i ≤ N")
            #expect(throws: expected) {
                try CalibrationShard(parsing: text)
            }
        }
        #expect((try? CalibrationShard(parsing: "3/3"))?.description == "3/3")
        #expect(CalibrationShard.whole.description == "1/1")
    }
}

@Suite("Calibration data")
struct CalibrationDataTests {
    private func write(_ text: String, _ name: String, in directory: TemporaryDirectory) throws -> URL {
        let url = directory.path(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test("plain text is one document per file; JSONL one per non-empty line of the field, in order")
    func documents() throws {
        let directory = try TemporaryDirectory()
        let plain = try write("first file\nwith two lines\n", "a.txt", in: directory)
        let jsonl = try write(
            "{\"text\": \"one\", \"body\": \"x\"}\n\n  \r\n{\"text\": \"\"}\n{\"text\": \"two \\u00e9\"}", "b.jsonl",
            in: directory)
        let data = try CalibrationData(urls: [plain, jsonl])
        #expect(data.documents == ["first file\nwith two lines\n", "one", "two é"])
        #expect(data.field == "text")
        #expect(data.paths == [plain.path, jsonl.path])
        #expect(try CalibrationData(urls: [plain]).field == nil)
    }

    @Test("a line lacking the field is missingField with its 1-based line number (blank lines counted)")
    func missingField() throws {
        let directory = try TemporaryDirectory()
        let url = try write("{\"text\": \"a\"}\n\n{\"content\": \"b\"}\n", "m.jsonl", in: directory)
        #expect(throws: CalibrationError.missingField(path: url.path, line: 3, field: "text")) {
            try CalibrationData(urls: [url])
        }
        let number = try write("{\"text\": 5}\n", "n.jsonl", in: directory)
        #expect(throws: CalibrationError.missingField(path: number.path, line: 1, field: "text")) {
            try CalibrationData(urls: [number])
        }
        let other = try write("{\"body\": \"b\"}\n{\"text\": \"a\"}\n", "o.jsonl", in: directory)
        #expect(throws: CalibrationError.missingField(path: other.path, line: 2, field: "body")) {
            try CalibrationData(urls: [other], field: "body")
        }
        let message = CalibrationError.missingField(path: url.path, line: 3, field: "text").description
        #expect(message.contains(url.path + ":3"))
    }

    @Test("a line that is not a JSON object is invalidJSONLine naming the file and line")
    func invalidLine() throws {
        let directory = try TemporaryDirectory()
        let broken = try write("{\"text\": \"a\"}\n{\"text\": \"b\"\n", "broken.jsonl", in: directory)
        #expect {
            try CalibrationData(urls: [broken])
        } throws: { error in
            guard case .invalidJSONLine(let path, let line, _) = error as? CalibrationError else { return false }
            return path == broken.path && line == 2 && "\(error)".contains(broken.path)
        }
        let array = try write("[\"text\"]\n", "array.jsonl", in: directory)
        #expect(throws: CalibrationError.invalidJSONLine(path: array.path, line: 1, reason: "not an object")) {
            try CalibrationData(urls: [array])
        }
    }

    @Test("an empty file, or a JSONL file with only blank or empty documents, is emptyData naming it")
    func emptyFiles() throws {
        let directory = try TemporaryDirectory()
        let good = try write("text", "good.txt", in: directory)
        for (text, name) in [
            ("", "empty.txt"), ("", "empty.jsonl"), ("\n \n", "blank.jsonl"), ("{\"text\": \"\"}", "e.jsonl"),
        ] {
            let url = try write(text, name, in: directory)
            #expect(throws: CalibrationError.emptyData(path: url.path)) { try CalibrationData(urls: [good, url]) }
            #expect(CalibrationError.emptyData(path: url.path).description.contains(url.path))
        }
        #expect(throws: (any Error).self) { try CalibrationData(urls: [directory.path("absent.txt")]) }
    }

    @Test("the digest depends on the bytes and the field, not on where the files are")
    func digest() throws {
        let directory = try TemporaryDirectory()
        let line = "{\"text\": \"alpha\", \"body\": \"beta\"}\n"
        let a = try write(line, "a.jsonl", in: directory)
        let copy = try write(line, "copy.jsonl", in: directory)
        let changed = try write(line + "{\"text\": \"c\", \"body\": \"d\"}\n", "changed.jsonl", in: directory)
        let base = try CalibrationData(urls: [a]).digest
        #expect(base.count == 64)
        #expect(try CalibrationData(urls: [copy]).digest == base)
        #expect(try CalibrationData(urls: [a], field: "text").digest == base)
        #expect(try CalibrationData(urls: [a], field: "body").digest != base)
        #expect(try CalibrationData(urls: [changed]).digest != base)
        // Two files are not the same as their concatenation.
        let first = try write("ab", "x.txt", in: directory)
        let second = try write("c", "y.txt", in: directory)
        let joined = try write("abc", "z.txt", in: directory)
        let split = try CalibrationData(urls: [first, second])
        #expect(split.documents == ["ab", "c"])
        #expect(split.digest != (try CalibrationData(urls: [joined]).digest))
        #expect(split.digest != (try CalibrationData(urls: [second, first]).digest))
    }
}

/// Copies every linear input it sees and forwards it to another observer.
private final class ActivationRecorder: ActivationObserving {
    let next: any ActivationObserving
    var inputs: [GramKey: [(rows: Int, columns: Int, values: [Float])]] = [:]
    init(forwardingTo next: any ActivationObserving) { self.next = next }

    func observe(_ input: LinearInput) {
        inputs[GramKey(layer: input.layer, group: input.group), default: []].append(
            (input.rows, input.columns, Array(input.values)))
        next.observe(input)
    }
}

@Suite("Gram accumulator")
struct GramAccumulatorTests {
    @Test("after several forward passes of tiny-llama every Gram matrix is the float64 XᵀX of the inputs")
    func matchesNaiveGram() throws {
        let weights = try CheckpointWeights(contentsOf: tinyLlamaURL)
        let c = weights.configuration
        let model = LlamaModel(configuration: c, source: weights, residency: .resident, threads: 1)
        let accumulator = GramAccumulator()
        let recorder = ActivationRecorder(forwardingTo: accumulator)
        var generator = SplitMix64(seed: 77)
        for length in [5, 11, 3] {
            let tokens = (0..<length).map { _ in Int(generator.next() % UInt64(c.vocabSize)) }
            _ = try model.forward(tokens: tokens, logitRows: (length - 1)..<length, observer: recorder)
        }
        try accumulator.requireFinite()
        #expect(accumulator.tokenCount == 19)
        #expect(accumulator.grams.count == c.layerCount * LinearGroup.allCases.count)
        for layer in 0..<c.layerCount {
            for group in LinearGroup.allCases {
                let key = GramKey(layer: layer, group: group)
                let batches = try #require(recorder.inputs[key])
                #expect(batches.map(\.rows) == [5, 11, 3])
                let h = try #require(accumulator.grams[key])
                #expect(h.rows == group.inputDimension(c) && h.columns == h.rows)
                let expected = naiveGram(batches)
                #expect(relativeDifference(h, expected) < 1e-12, "\(key.tensorName)")
                #expect((expected.values.map(abs).max() ?? 0) > 0)
            }
        }
    }

    @Test("a NaN activation is reported with its block, input, token and feature; its rows are not summed")
    func nonFiniteActivation() throws {
        let weights = try CheckpointWeights(contentsOf: tinyLlamaURL)
        let c = weights.configuration
        var layers = try (0..<c.layerCount).map { try weights.layerWeights(at: $0) }
        layers[1].feedForwardNorm[5] = .nan  // every token's feature 5 of block 1's gate/up input
        let source = InMemoryWeights(
            embedding: try weights.embeddings(of: Array(0..<c.vocabSize)), layers: layers,
            head: try weights.headWeights())
        let model = LlamaModel(configuration: c, source: source, residency: .resident, threads: 1)
        let accumulator = GramAccumulator()
        _ = model.forward(tokens: [3, 1, 4, 1, 5], observer: accumulator)
        let expected = CalibrationError.nonFiniteActivation(
            layer: 1, input: "mlp.gate_proj/mlp.up_proj", token: 0, feature: 5)
        #expect(throws: expected) { try accumulator.requireFinite() }
        #expect(expected.description.contains("block 1") && expected.description.contains("feature 5"))
        #expect(accumulator.grams[GramKey(layer: 1, group: .feedForwardInput)] == nil)
        #expect(accumulator.grams[GramKey(layer: 0, group: .feedForwardInput)] != nil)
        #expect(accumulator.tokenCount == 5)
    }
}

@Suite("Checkpoint digest")
struct CheckpointDigestTests {
    @Test("an HF directory's digest ignores its path and other files; config.json and the weights change it")
    func modelDigest() throws {
        let directory = try TemporaryDirectory()
        let copy = try directory.copyFixture("tiny-llama")
        let original = try CheckpointDigest.model(at: tinyLlamaURL)
        #expect(try CheckpointDigest.model(at: copy) == original)
        let generation = copy.appendingPathComponent("generation_config.json")
        try Data("{}".utf8).write(to: generation)
        #expect(try CheckpointDigest.model(at: copy) == original)
        let config = copy.appendingPathComponent("config.json")
        try (try Data(contentsOf: config) + Data(" ".utf8)).write(to: config)
        let changedConfig = try CheckpointDigest.model(at: copy)
        #expect(changedConfig != original)
        let weights = copy.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count - 1] ^= 1
        try bytes.write(to: weights)
        #expect(try CheckpointDigest.model(at: copy) != changedConfig)
    }

    @Test("a GGUF file's digest is SHA-256 of its length (8 bytes LE) then its bytes")
    func ggufDigest() throws {
        let directory = try TemporaryDirectory()
        let gguf = directory.path("model.gguf")
        _ = try CheckpointConverter.convert(from: tinyLlamaURL, to: gguf)
        let bytes = try Data(contentsOf: gguf)
        var digest = ContentDigest()
        digest.update(integer: UInt64(bytes.count))
        bytes.withUnsafeBytes { digest.update($0) }
        #expect(try CheckpointDigest.model(at: gguf) == digest.finalize())
    }

    @Test("the tokenizer digest is the same from tokenizer.json and from GGUF metadata, and follows the BOS policy")
    func tokenizerDigest() throws {
        let directory = try TemporaryDirectory()
        let gguf = directory.path("model.gguf")
        _ = try CheckpointConverter.convert(from: tinyLlamaURL, to: gguf)
        let hf = try CheckpointWeights(contentsOf: tinyLlamaURL).tokenizerMetadata()
        let fromGGUF = try CheckpointWeights(contentsOf: gguf).tokenizerMetadata()
        #expect(CheckpointDigest.tokenizer(hf) == CheckpointDigest.tokenizer(fromGGUF))
        var flipped = hf
        flipped.addBOS = !(hf.addBOS ?? false)
        #expect(CheckpointDigest.tokenizer(flipped) != CheckpointDigest.tokenizer(hf))
    }
}
