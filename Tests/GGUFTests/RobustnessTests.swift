// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore
import Testing

@testable import GGUF

@Suite("GGUF reader: truncation and corruption never trap")
struct RobustnessTests {
    @Test("the small reference file parses with the expected contents")
    func smallFileParses() throws {
        let small = SmallFile()
        let file = try TemporaryFile(small.bytes)
        let gguf = try file.open()
        #expect(gguf.version == 3)
        #expect(gguf.metadata.keys == ["general.architecture", "llama.block_count", "test.scores"])
        #expect(gguf.metadata["test.scores"] == .array(.float32([0.5, -1])))
        #expect(gguf.dataOffset == small.dataOffset)
        let weight = try #require(gguf["blk.0.w"])
        #expect(weight.offset == 32 && weight.byteCount == 34 && weight.type == .q8_0)
        #expect(Array(try gguf.bytes(of: weight)) == pattern(seed: 2, count: 34))
    }

    @Test("truncating the file at every offset throws, except inside the final padding")
    func truncationAtEveryOffset() throws {
        let small = SmallFile()
        let file = try TemporaryFile()
        var failures = 0
        for length in 0..<small.bytes.count {
            try file.write(Array(small.bytes.prefix(length)))
            do {
                let gguf = try file.open()
                // Only a missing or partial final padding is tolerated (as llama.cpp's mmap loader does).
                #expect(length >= small.unpaddedEnd, "truncated to \(length) bytes but parsed")
                #expect(gguf.tensors.count == 2)
            } catch {
                failures += 1
                #expect(length < small.unpaddedEnd, "truncated to \(length) bytes: \(error)")
            }
        }
        #expect(failures == small.unpaddedEnd)
    }

    @Test(
        "random byte flips either parse consistently or throw GGUFError",
        arguments: [UInt64(1), 2, 3])
    func randomFlips(seed: UInt64) throws {
        let small = SmallFile()
        var rng = SplitMix64(seed: seed)
        let file = try TemporaryFile()
        var thrown = 0
        let rounds = 300
        for _ in 0..<rounds {
            var bytes = small.bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                // Corrupt the header and infos mostly: that is where the parser decides things.
                let index = Int.random(in: 0..<small.dataOffset, using: &rng)
                bytes[index] = UInt8.random(in: 0...255, using: &rng)
            }
            try file.write(bytes)
            do {
                let gguf = try file.open()
                for tensor in gguf.tensors where tensor.byteCount != nil {
                    let data = try gguf.bytes(of: tensor)
                    #expect(data.count == tensor.byteCount)
                    #expect(gguf.dataOffset + tensor.offset + data.count <= bytes.count)
                }
            } catch {
                thrown += 1
            }
        }
        #expect(thrown > 0 && thrown <= rounds)
    }

    @Test("random garbage after a valid header throws without trapping", arguments: [UInt64(7), 8])
    func randomGarbage(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let file = try TemporaryFile()
        var parsed = 0
        for _ in 0..<200 {
            let tensorCount = Int.random(in: 0...3, using: &rng)
            let kvCount = Int.random(in: 0...3, using: &rng)
            var b = ByteBuilder()
            b.header(tensorCount: UInt64(tensorCount), kvCount: UInt64(kvCount))
            b.raw(
                (0..<Int.random(in: 0...200, using: &rng)).map { _ in
                    UInt8.random(in: 0...255, using: &rng)
                })
            try file.write(b.bytes)
            // Must return or throw a GGUFError; a trap would end the test run.
            if let gguf = try? file.open() {
                parsed += 1
                #expect(gguf.tensors.count == tensorCount && gguf.metadata.count == kvCount)
            }
        }
        #expect(parsed < 200)
    }

    @Test("huge declared lengths fail fast instead of allocating")
    func hugeLengthsFailFast() throws {
        var b = ByteBuilder()
        b.header(tensorCount: 0, kvCount: 1)
        b.string("tokenizer.ggml.tokens")
        b.u32(GGUFValueType.array.rawValue)
        b.u32(GGUFValueType.uint64.rawValue)
        b.u64(1 << 24)  // at the cap: 128 MiB of u64 would be allocated if trusted
        let file = try TemporaryFile(b.bytes)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(
                throws: GGUFError.truncated(
                    path: file.path, item: .value(key: "tokenizer.ggml.tokens"), offset: b.count,
                    needed: 8 << 24,
                    available: 0)
            ) { try file.open() }
        }
        #expect(elapsed < .seconds(1))
    }
}
