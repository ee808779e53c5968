// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import QuailKit

@main
struct Quail: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quail",
        abstract: "Convert, quantize and inspect LLM checkpoints; initialise LoRA adapters against quantization error.",
        discussion: """
            Quail reads Hugging Face checkpoints (config.json, safetensors, tokenizer.json) and GGUF files, \
            and writes both. See man quail for details.
            """,
        version: QuailVersion.string,
        subcommands: [
            InspectCommand.self, ConvertCommand.self, QuantizeCommand.self, TokenizeCommand.self,
            EvalCommand.self, CalibrateCommand.self, InitCommand.self, KeygenCommand.self, SignCommand.self, VerifyCommand.self, SolveLayerCommand.self,
        ])
}
