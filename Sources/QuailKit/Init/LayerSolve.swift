// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import LowRankInit
import Quantization
import TensorCore

/// One layer's LoRA initialisation from `.npy` files: the developer hook behind the hidden
/// `quail solve-layer` command, used by Tests/interop/test_solvers.py and bench/solver_bench.py.
public enum LayerSolve {
    /// The quantize-dequantize function `loftq` alternates with.
    public enum Quantizer: Sendable, Equatable {
        /// A ggml block type (`q4_0`, `q8_0`, `q4_k`, ...), rows quantized independently.
        case ggml(GGMLType)
        /// bitsandbytes NF4/FP4, block size 64, no double quantization (PEFT's LoftQ settings).
        case bitsAndBytes(BitsAndBytes4BitType)

        /// Looks a quantizer up by name: `nf4`, `fp4` or a ggml type name; nil when unknown.
        public init?(name: String) {
            if let type = BitsAndBytes4BitType(rawValue: name.lowercased()) {
                self = .bitsAndBytes(type)
            } else if let type = GGMLType(name: name), GGMLCodec.canQuantize(type) {
                self = .ggml(type)
            } else {
                return nil
            }
        }

        /// `dequant(quant(m))`.
        func roundTrip(_ m: Matrix) throws -> Matrix {
            switch self {
            case .ggml(let type):
                guard let rowBytes = type.rowByteCount(elements: m.columns) else {
                    throw QuantizationError.lengthNotMultipleOfBlock(
                        elements: m.columns, blockSize: type.blockSize, type: type)
                }
                var bytes = [UInt8](repeating: 0, count: rowBytes * m.rows)
                var values = [Float](repeating: 0, count: m.values.count)
                try m.values.withUnsafeBufferPointer { source in
                    try bytes.withUnsafeMutableBytes { target in try GGMLCodec.quantize(source, as: type, into: target)
                    }
                }
                try bytes.withUnsafeBytes { raw in
                    try values.withUnsafeMutableBufferPointer { target in
                        try GGMLCodec.dequantize(raw, as: type, into: target)
                    }
                }
                return Matrix(rows: m.rows, columns: m.columns, values: values)
            case .bitsAndBytes(let type):
                let tensor = try m.values.withUnsafeBufferPointer { values throws(BitsAndBytesError) in
                    try BitsAndBytes4BitCodec.quantize(values, shape: [m.rows, m.columns], as: type)
                }
                return Matrix(rows: m.rows, columns: m.columns, values: BitsAndBytes4BitCodec.dequantize(tensor))
            }
        }
    }

    /// What to solve and where to put it.
    public struct Options: Sendable {
        /// The solver.
        public var method: LowRankInitMethod
        /// Rank, damping, steps, LoftQ iterations.
        public var solver: LowRankInitOptions
        /// Required for `loftq`.
        public var quantizer: Quantizer?
        /// When set, the stored factors are divided by `√scale` (``LowRankFactors/splittingScale(_:)``).
        public var scale: Double?
        /// Directory to write `a.npy` (`rank × in`), `b.npy` (`out × rank`) and, for `loftq`, `base.npy`.
        public var output: URL?
        /// Replace an existing output directory.
        public var overwrite: Bool

        /// Options for `method` with `solver` settings and nothing written.
        public init(
            method: LowRankInitMethod, solver: LowRankInitOptions, quantizer: Quantizer? = nil,
            scale: Double? = nil, output: URL? = nil, overwrite: Bool = false
        ) {
            self.method = method
            self.solver = solver
            self.quantizer = quantizer
            self.scale = scale
            self.output = output
            self.overwrite = overwrite
        }
    }

    /// Reads `W` and `Q` (float32 or float64 `out × in`) and `H` (`in × in`), solves, writes the factors
    /// atomically when asked, and returns the report (errors, history, solve time).
    public static func run(weight: URL, base: URL, gram: URL, options: Options) throws -> JSONValue {
        let w = try matrix(weight)
        let q = try matrix(base)
        let hArray = try NumpyArray.read(gram)
        guard hArray.shape.count == 2 else {
            throw CheckpointError.invalidArrayFile(
                path: gram.path, reason: "expected a 2-D array, got shape \(hArray.shape)")
        }
        let h = DoubleMatrix(rows: hArray.shape[0], columns: hArray.shape[1], values: hArray.doubleValues)
        let problem = try LowRankInitProblem(layer: weight.lastPathComponent, weight: w, base: q, gram: h)
        let quantize = options.quantizer.map { quantizer in
            { (m: Matrix) throws -> Matrix in try quantizer.roundTrip(m) }
        }
        let clock = ContinuousClock()
        let start = clock.now
        let result = try LowRankInitializer.solve(
            problem, method: options.method, options: options.solver, quantize: quantize)
        let elapsed = clock.now - start
        let factors = try options.scale.map { try result.factors.splittingScale($0) } ?? result.factors
        if let output = options.output {
            let atomic = try AtomicOutput(destination: output, isDirectory: true, overwrite: options.overwrite)
            var files: [(String, NumpyArray)] = [
                ("a.npy", NumpyArray(shape: [factors.a.rows, factors.a.columns], storage: .float32(factors.a.values))),
                ("b.npy", NumpyArray(shape: [factors.b.rows, factors.b.columns], storage: .float32(factors.b.values))),
            ]
            if let base = result.base {
                files.append(
                    ("base.npy", NumpyArray(shape: [base.rows, base.columns], storage: .float32(base.values))))
            }
            for (name, array) in files {
                try Data(array.encoded()).write(to: atomic.temporaryURL.appendingPathComponent(name))
            }
            try atomic.commit()
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return report(result, rows: w.rows, columns: w.columns, options: options, seconds: seconds)
    }

    static func matrix(_ url: URL) throws -> Matrix {
        let array = try NumpyArray.read(url)
        guard array.shape.count == 2 else {
            throw CheckpointError.invalidArrayFile(
                path: url.path, reason: "expected a 2-D array, got shape \(array.shape)")
        }
        return Matrix(rows: array.shape[0], columns: array.shape[1], values: array.floatValues)
    }

    static func report(
        _ result: LowRankInitResult, rows: Int, columns: Int, options: Options, seconds: Double
    ) -> JSONValue {
        func number(_ x: Double) -> JSONValue { x.isFinite ? .number(x) : .null }
        func errors(_ e: LowRankInitErrors) -> JSONValue {
            .object([
                ("relative_calibrated", number(e.relativeCalibrated)), ("relative_weight", number(e.relativeWeight)),
                ("calibrated", number(e.calibrated)), ("zero_init_calibrated", number(e.zeroInitCalibrated)),
                ("weight", number(e.weight)), ("zero_init_weight", number(e.zeroInitWeight)),
            ])
        }
        return .object([
            ("method", .string(result.method.rawValue)), ("rows", .integer(rows)), ("columns", .integer(columns)),
            ("rank", .integer(options.solver.rank)), ("damping", number(result.damping)),
            ("scale", options.scale.map(number) ?? .null), ("errors", errors(result.errors)),
            ("fell_back_to_zero", .bool(result.fellBackToZero)),
            ("rejected_errors", result.rejectedErrors.map(errors) ?? .null),
            ("base_replaced", .bool(result.base != nil)),
            ("objective_history", .array(result.objectiveHistory.map(number))),
            ("solve_seconds", number(seconds)),
        ])
    }
}
