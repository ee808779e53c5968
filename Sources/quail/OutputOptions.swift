// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

/// Options shared by commands that write a checkpoint.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Replace an existing destination.")
    var force = false

    @Option(help: "Largest safetensors shard in bytes when writing an HF directory.")
    var maxShardBytes: Int = 5_000_000_000

    func validate() throws {
        guard maxShardBytes > 0 else { throw ValidationError("--max-shard-bytes must be positive") }
    }
}
