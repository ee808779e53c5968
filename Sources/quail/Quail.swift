// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import QuailKit

@main
struct Quail: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quail",
        abstract: "Quantize checkpoints and initialise LoRA adapters that undo the quantization error.",
        version: QuailVersion.string,
        subcommands: [])
}
