// SPDX-License-Identifier: Apache-2.0
import Foundation
import Packaging
import TensorCore

/// Content digests that tie derived files (calibration statistics, bundles) to the checkpoint they came from.
public enum CheckpointDigest {
    /// SHA-256 identifying a checkpoint's files: a GGUF file's bytes, or for an HF directory every `config.json`,
    /// `*.safetensors` and `*.safetensors.index.json` file in name order, each as its length-prefixed name followed
    /// by its length-prefixed bytes.
    ///
    /// - Throws: ``CheckpointError`` for an unknown layout, or the file error.
    public static func model(at url: URL) throws -> String {
        var digest = ContentDigest()
        switch try CheckpointFormat.detect(url) {
        case .ggufFile, .safetensorsFile:
            try add(url, to: &digest)
        case .hfDirectory:
            let names = try FileManager.default.contentsOfDirectory(atPath: url.path).filter {
                $0 == "config.json" || $0.hasSuffix(".safetensors") || $0.hasSuffix(".safetensors.index.json")
            }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            for name in names {
                digest.update(lengthPrefixed: name)
                try add(url.appendingPathComponent(name), to: &digest)
            }
        }
        return digest.finalize()
    }

    /// SHA-256 identifying a tokenizer by what decides its output: tokens, token types, merges, pre-tokenizer,
    /// special ids and the BOS policy. The same tokenizer stored in `tokenizer.json` or in GGUF metadata gives the
    /// same digest.
    public static func tokenizer(_ metadata: BPETokenizerMetadata) -> String {
        var digest = ContentDigest()
        digest.update(integer: UInt64(metadata.tokens.count))
        for token in metadata.tokens { digest.update(lengthPrefixed: token) }
        for type in metadata.tokenTypes { digest.update(integer: UInt64(bitPattern: Int64(type))) }
        digest.update(integer: UInt64(metadata.merges.count))
        for merge in metadata.merges { digest.update(lengthPrefixed: merge) }
        digest.update(lengthPrefixed: metadata.preTokenizerName ?? "")
        for id in [metadata.bosID, metadata.eosID, metadata.unknownID, metadata.paddingID] {
            digest.update(integer: id.map { UInt64($0) + 1 } ?? 0)
        }
        digest.update(integer: metadata.addBOS.map { $0 ? 2 : 1 } ?? 0)
        return digest.finalize()
    }

    /// Adds a file's length and bytes, read through a memory mapping whose pages are released as it goes.
    private static func add(_ url: URL, to digest: inout ContentDigest) throws {
        let file = try MappedFile(url: url)
        digest.update(integer: UInt64(file.bytes.count))
        let step = 1 << 24
        var offset = 0
        while offset < file.bytes.count {
            let chunk = UnsafeRawBufferPointer(rebasing: file.bytes[offset..<min(offset + step, file.bytes.count)])
            digest.update(chunk)
            MappedFile.releasePages(of: chunk)
            offset += step
        }
    }
}
