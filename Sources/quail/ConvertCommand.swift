// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import QuailKit
import TensorCore

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a llama-family checkpoint between an HF directory and GGUF without loss.",
        discussion: """
            SRC is an HF directory or a GGUF file; DST ending in .gguf is written as GGUF, anything else as an \
            HF directory. Tensor types are kept unless --dtype asks otherwise; every change of type is reported. \
            The output appears only when complete.
            """)

    @Argument(help: "Source checkpoint (HF directory or GGUF file).", completion: .file())
    var source: String

    @Argument(help: "Destination (.gguf file or HF directory).", completion: .file())
    var destination: String

    @Option(help: "Store 2-D tensors as f32, f16 or bf16 (1-D tensors keep their type).")
    var dtype: String?

    @OptionGroup var output: OutputOptions

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        if let dtype, !["f32", "f16", "bf16"].contains(dtype.lowercased()) {
            throw ValidationError("--dtype must be f32, f16 or bf16, not `\(dtype)`")
        }
    }

    func run() throws {
        let options = CheckpointConverter.Options(
            dtype: dtype.flatMap { DType(rawValue: $0.uppercased()) }, overwrite: output.force,
            maxShardByteCount: output.maxShardBytes)
        let report = try CheckpointConverter.convert(
            from: URL(fileURLWithPath: source), to: URL(fileURLWithPath: destination), options: options,
            progress: TerminalProgress(label: "convert"))
        if json {
            print(report.jsonRepresentation.text(indent: 2))
            return
        }
        print("wrote \(report.destination): \(report.tensorCount) tensors, \(report.tensorBytes) bytes of tensor data")
        let lossy = report.casts.filter { !$0.lossless }
        if !report.casts.isEmpty {
            print("changed type of \(report.casts.count) tensor(s) (\(lossy.count) lossy):")
            for cast in report.casts {
                print("  \(cast.tensor): \(cast.from) -> \(cast.to)\(cast.lossless ? "" : " (lossy)")")
            }
        }
        for note in report.notes { print("note: \(note)") }
    }
}
