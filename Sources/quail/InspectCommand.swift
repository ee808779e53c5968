// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import QuailKit

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a checkpoint's architecture, hyperparameters, tokenizer and tensor table.",
        discussion: """
            PATH is a safetensors file, an HF checkpoint directory (config.json + model.safetensors or a sharded \
            index), or a GGUF file. Only headers and side files are read, never tensor data.
            """)

    @Argument(help: "Checkpoint file or directory.", completion: .file())
    var path: String

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let inspection = try CheckpointInspection(path: URL(fileURLWithPath: path))
        print(json ? inspection.jsonRepresentation.text(indent: 2) : inspection.text)
    }
}
