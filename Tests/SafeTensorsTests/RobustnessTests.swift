// SPDX-License-Identifier: Apache-2.0
import Foundation
import SafeTensors
import TensorCore
import Testing

@Suite("Reader robustness on damaged files")
struct RobustnessTests {
    /// A small valid file with a scalar, a zero-size tensor and several dtypes.
    private func validFile(in directory: TemporaryDirectory) throws -> [UInt8] {
        let url = directory.url.appendingPathComponent("valid.safetensors")
        try write(WriterTests.knownEntries, contents: WriterTests.knownContents, to: url)
        return try fileBytes(url)
    }

    @Test("truncating a valid file at every offset throws a typed error")
    func truncationAtEveryOffset() throws {
        let directory = try TemporaryDirectory()
        let bytes = try validFile(in: directory)
        let url = directory.url.appendingPathComponent("cut.safetensors")
        for length in 0..<bytes.count {
            try Data(bytes[..<length]).write(to: url)
            do {
                _ = try SafeTensorsFile(contentsOf: url)
                Issue.record("truncation to \(length) of \(bytes.count) bytes was accepted")
            } catch {
                // The header occupies 8..<328; a cut inside it breaks the length prefix, later ones lose data.
                switch error {
                case .fileTooSmall: #expect(length < 8)
                case .headerBeyondFile: #expect(length >= 8 && length < 328)
                case .tensorBeyondFile: #expect(length >= 328)
                default: Issue.record("unexpected error \(error) at length \(length)")
                }
            }
        }
    }

    @Test("random byte flips never trap; accepted files still tile their data buffer exactly")
    func randomFlips() throws {
        let directory = try TemporaryDirectory()
        let original = try validFile(in: directory)
        let url = directory.url.appendingPathComponent("flipped.safetensors")
        var rng = SplitMix64(seed: 2024)
        var rejected = 0
        for _ in 0..<1500 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                // Mostly inside the header, where flips change meaning rather than data.
                let position = Int.random(in: 0..<(Bool.random(using: &rng) ? 330 : bytes.count), using: &rng)
                bytes[position] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
            }
            try Data(bytes).write(to: url)
            do {
                let file = try SafeTensorsFile(contentsOf: url)
                let covered = file.tensors.map(\.byteCount).reduce(0, +)
                #expect(covered == bytes.count - 8 - file.headerByteCount)
                for tensor in file.tensors { _ = file.bytes(of: tensor).reduce(0, &+) }
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 0)
    }

    @Test("random garbage headers of every small length never trap")
    func randomHeaders() throws {
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("garbage.safetensors")
        var rng = SplitMix64(seed: 77)
        let pieces = Array(#"{}[]":,0123456789-.eE"dtypeshapedata_offsets__metadata__ nulltruefalse\u"#.utf8)
        var accepted = 0
        for _ in 0..<1500 {
            let length = Int.random(in: 0...40, using: &rng)
            let header = (0..<length).map { _ in pieces.randomElement(using: &rng) ?? 0x20 }
            try Data(rawFile(header: header)).write(to: url)
            if (try? SafeTensorsFile(contentsOf: url)) != nil { accepted += 1 }
        }
        // Only headers that happen to spell an empty object (possibly with empty metadata) can pass.
        #expect(accepted < 1500)
    }
}
