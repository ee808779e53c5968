// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import QuailKit

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Collect calibration statistics (Gram matrices of every linear input) for LoRA initialisation.",
        discussion: """
            `quail calibrate MODEL --calib FILE... -o STATS` runs the full-precision model on sampled calibration \
            text and writes the float64 Gram matrix of every linear input; `--shard i/N` runs a deterministic share \
            of the samples, and `quail calibrate merge PART... -o STATS` sums the shards into the single-run result. \
            See man quail-calibrate and formats/calibration-stats.md.
            """,
        subcommands: [CalibrateRunCommand.self, CalibrateMergeCommand.self],
        defaultSubcommand: CalibrateRunCommand.self)
}

/// Sampler and data options shared by `calibrate` and `init`.
struct CalibrationOptions: ParsableArguments {
    @Option(
        name: .customLong("calib"), parsing: .upToNextOption,
        help: ArgumentHelp("Calibration text files: plain text, or JSONL (*.jsonl) with --field.", valueName: "FILE"),
        completion: .file())
    var files: [String] = []

    @Option(help: "JSONL field holding the text.")
    var field: String?

    @Option(help: "Calibration sequences.")
    var samples = 128

    @Option(help: "Tokens per sequence (BOS included when the model adds it).")
    var seqLen = 512

    @Option(help: "Seed of the sampler.")
    var seed: UInt64 = 0

    @Option(help: "Refuse fewer sampled tokens than this many per dimension of the largest Gram matrix.")
    var minTokensPerDim = 1.0

    @Option(help: "Threads of the forward pass (default: OPENBLAS_NUM_THREADS or all cores).")
    var threads: Int?

    var sampler: CalibrationSamplerSettings {
        CalibrationSamplerSettings(samples: samples, sequenceLength: seqLen, seed: seed)
    }

    func data() throws -> CalibrationData {
        try CalibrationData(urls: files.map { URL(fileURLWithPath: $0) }, field: field)
    }

    func validate() throws {
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
    }
}

/// Where `calibrate` and `calibrate merge` write, and how they report.
struct StatisticsDestination: ParsableArguments {
    @Option(name: [.customShort("o"), .long], help: "Statistics file to write (safetensors).", completion: .file())
    var output: String

    @Flag(help: "Replace an existing output file.")
    var force = false

    @Flag(help: "Print the report as JSON.")
    var json = false
}

struct CalibrateRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the model on calibration text and write its statistics (the default subcommand).")

    @Argument(help: "Full-precision model (HF directory or GGUF file).", completion: .file())
    var model: String

    @OptionGroup var calibration: CalibrationOptions

    @Option(help: "Run only shard i of N (1-based) of the samples.")
    var shard: String?

    @OptionGroup var destination: StatisticsDestination

    func validate() throws {
        guard !calibration.files.isEmpty else { throw ValidationError("pass at least one --calib FILE") }
    }

    func run() throws {
        let weights = try CheckpointWeights(contentsOf: URL(fileURLWithPath: model))
        let data = try calibration.data()
        let options = CalibrationRun.Options(
            sampler: calibration.sampler, shard: try shard.map(CalibrationShard.init(parsing:)) ?? .whole,
            minimumTokensPerDimension: calibration.minTokensPerDim, threadCount: calibration.threads)
        let result = try CalibrationRun.run(
            weights, data: data, options: options, progress: TerminalProgress(label: "calibrate"))
        try CalibrationStatisticsFile.write(
            grams: result.grams, provenance: result.provenance, to: URL(fileURLWithPath: destination.output),
            overwrite: destination.force)
        let report = CalibrationReport(result: result, output: destination.output)
        print(destination.json ? report.json.text(indent: 2) : report.text)
    }
}

struct CalibrateMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Sum the shards of one calibration run into one statistics file.")

    @Argument(help: "Partial statistics files (every shard 1…N once).", completion: .file())
    var parts: [String]

    @OptionGroup var destination: StatisticsDestination

    func validate() throws {
        guard !parts.isEmpty else { throw ValidationError("pass the partial statistics files") }
    }

    func run() throws {
        let files = try parts.map { try CalibrationStatisticsFile(contentsOf: URL(fileURLWithPath: $0)) }
        let provenance = try CalibrationStatisticsFile.merge(
            files, to: URL(fileURLWithPath: destination.output), overwrite: destination.force)
        if destination.json {
            let report: JSONValue = .object([
                ("output", .string(destination.output)), ("parts", .integer(parts.count)),
                ("sequences", .integer(provenance.sequences)), ("tokens", .integer(provenance.tokens)),
            ])
            print(report.text(indent: 2))
        } else {
            print(
                "merged \(parts.count) shards: \(provenance.sequences) sequences, \(provenance.tokens) tokens -> "
                    + destination.output)
        }
    }
}
