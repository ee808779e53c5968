// SPDX-License-Identifier: Apache-2.0
import Foundation
import QuailKit
import Testing

@Suite("tokenizer.json written from GGUF metadata")
struct TokenizerJSONTests {
    /// A GGUF `llama-bpe` tokenizer adds BOS and ignores merges by default in llama.cpp; the HF files written
    /// from it must make HF tokenizers (and Quail reading them back) do the same.
    @Test("a llama-bpe tokenizer keeps its BOS template and ignore_merges through HF files")
    func llamaBPEPolicySurvives() throws {
        let temp = try TemporaryDirectory()
        let directory = try temp.copyFixture("tiny-llama")
        let source = try CheckpointTokenizer(checkpointAt: directory)
        let config = try JSONValue(parsing: Data(contentsOf: directory.appendingPathComponent("config.json")))
        let hparams = try LlamaHyperparameters(configJSON: config, path: "config.json")
        var metadata = try BPETokenizerMetadata(
            tokenizer: JSONValue(parsing: Data(contentsOf: directory.appendingPathComponent("tokenizer.json"))),
            tokenizerPath: "tokenizer.json", config: nil, hparams: hparams)
        metadata.preTokenizerName = "llama-bpe"
        metadata.addBOS = nil
        let json = metadata.tokenizerJSON()
        #expect(json["model"]?["ignore_merges"] == .bool(true))
        try Data(json.text(indent: 2).utf8).write(to: directory.appendingPathComponent("tokenizer.json"))
        try FileManager.default.removeItem(at: directory.appendingPathComponent("tokenizer_config.json"))

        let reread = try CheckpointTokenizer(checkpointAt: directory)
        #expect(reread.preTokenizerName == "llama-bpe")
        let bos = try #require(metadata.bosID)
        let ids = reread.tokenizer.encode("hello there")
        #expect(ids.first == bos)
        #expect(source.tokenizer.encode("hello there").first != bos)
    }
}
