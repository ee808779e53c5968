// SPDX-License-Identifier: Apache-2.0
import Foundation
import Transformer

/// A config.json `rope_scaling` Quail runs: transformers' `ROPE_INIT_FUNCTIONS` entries `linear`, `dynamic` and
/// `llama3` (`modeling_rope_utils.py`). `yarn`, `longrope` and the others are refused when read.
public enum RopeScaling: Equatable, Sendable {
    /// `linear`: every inverse frequency divided by `factor` (positions interpolated).
    case linear(factor: Double)
    /// `dynamic`: NTK-aware scaling; a chunk of `T > max_position_embeddings` positions uses the base
    /// `θ · (factor·T/max − (factor − 1))^(hd/(hd−2))`, shorter chunks the plain base.
    case dynamic(factor: Double)
    /// `llama3` (Llama 3.1 and later): frequencies whose wavelength exceeds `original/low` are divided by `factor`,
    /// those below `original/high` are kept, and the band between is blended.
    case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContextLength: Int)

    /// The `rope_scaling` object of a config.json, or nil for null, an absent one or `rope_type: default`.
    ///
    /// - Throws: ``CheckpointError/unsupportedArchitecture(path:found:supported:)`` for other rope types,
    ///   ``CheckpointError/invalidField(path:key:expected:)`` for a missing or non-positive parameter.
    init?(configJSON value: JSONValue?, modelType: String, path: String) throws(CheckpointError) {
        guard let value, value != .null else { return nil }
        guard value.objectValue != nil else {
            throw .invalidField(path: path, key: "rope_scaling", expected: "an object or null")
        }
        let type = value["rope_type"]?.stringValue ?? value["type"]?.stringValue
        func number(_ key: String) throws(CheckpointError) -> Double {
            guard let number = value[key]?.doubleValue, number.isFinite, number > 0 else {
                throw .invalidField(path: path, key: "rope_scaling.\(key)", expected: "a positive number")
            }
            return number
        }
        switch type {
        case "default": return nil
        case "linear": self = .linear(factor: try number("factor"))
        case "dynamic": self = .dynamic(factor: try number("factor"))
        case "llama3":
            let low = try number("low_freq_factor")
            let high = try number("high_freq_factor")
            guard high > low else {
                throw .invalidField(
                    path: path, key: "rope_scaling.high_freq_factor", expected: "a number above low_freq_factor")
            }
            guard let original = value["original_max_position_embeddings"]?.intValue, original > 0 else {
                throw .invalidField(
                    path: path, key: "rope_scaling.original_max_position_embeddings", expected: "a positive integer")
            }
            self = .llama3(
                factor: try number("factor"), lowFrequencyFactor: low, highFrequencyFactor: high,
                originalContextLength: original)
        default:
            throw .unsupportedArchitecture(
                path: path, found: "\(modelType) with rope_scaling \(value.text())",
                supported: ["rope_scaling null, default, linear, dynamic or llama3"])
        }
    }

    /// The config.json object, keys sorted as transformers writes them.
    public var configJSON: JSONValue {
        switch self {
        case .linear(let factor):
            .object([("factor", .number(factor)), ("rope_type", .string("linear"))])
        case .dynamic(let factor):
            .object([("factor", .number(factor)), ("rope_type", .string("dynamic"))])
        case .llama3(let factor, let low, let high, let original):
            .object([
                ("factor", .number(factor)), ("high_freq_factor", .number(high)), ("low_freq_factor", .number(low)),
                ("original_max_position_embeddings", .integer(original)), ("rope_type", .string("llama3")),
            ])
        }
    }

    /// The forward pass's form for a head dimension and base: what each inverse frequency `θ^(−2i/hd)` is divided by
    /// (transformers' `_compute_linear_scaling_rope_parameters`, `_compute_llama3_parameters`; the same divisors
    /// llama.cpp's converter stores in `rope_freqs.weight` for llama3), or the dynamic rule.
    func rotaryScaling(headDim: Int, theta: Double, contextLength: Int) -> RotaryScaling {
        let half = headDim / 2
        switch self {
        case .linear(let factor):
            return .frequencyDivisors([Double](repeating: factor, count: half))
        case .dynamic(let factor):
            return .dynamicNTK(factor: factor, contextLength: contextLength)
        case .llama3(let factor, let low, let high, let original):
            let lowWavelength = Double(original) / low
            let highWavelength = Double(original) / high
            return .frequencyDivisors((0..<half).map { i in
                let wavelength = 2 * Double.pi * pow(theta, Double(2 * i) / Double(headDim))
                if wavelength < highWavelength { return 1 }
                if wavelength > lowWavelength { return factor }
                let smooth = (Double(original) / wavelength - low) / (high - low)
                return 1 / ((1 - smooth) / factor + smooth)
            })
        }
    }
}
