// SPDX-License-Identifier: Apache-2.0
import Foundation

/// One runtime's half of a bundle: its quantized base, its adapter, and what solving produced.
public struct BundleVariant: Sendable {
    /// `peft` or `gguf`.
    public let runtime: BundleRuntime
    /// The base, relative to the bundle root (`peft/base`, `gguf/base.gguf`).
    public let basePath: String
    /// The adapter, relative to the bundle root (`peft/adapter`, `gguf/adapter.gguf`).
    public let adapterPath: String
    /// The per-layer error plot, relative to the bundle root.
    public let plotPath: String
    /// The base's quantization (`nf4/64+dq`, `q4_0`).
    public let quantization: String
    /// Per adapted layer, in block then target order.
    public var layers: [InitLayerMetrics] = []
    /// Seconds spent writing the quantized base.
    public var quantizeSeconds = 0.0
    /// Seconds spent solving.
    public var solveSeconds: Double { layers.reduce(0) { $0 + $1.seconds } }
    /// Perplexity of the base alone and with the adapter, when evaluated.
    public var perplexity: (base: Double, adapted: Double)?
    /// The compatibility check's findings.
    public var compatibility: AdapterCompatibility.Outcome?

    /// The layout of `runtime`'s variant.
    init(runtime: BundleRuntime, quantization: String) {
        self.runtime = runtime
        self.quantization = quantization
        switch runtime {
        case .gguf:
            basePath = "gguf/base.gguf"
            adapterPath = "gguf/adapter.gguf"
            plotPath = "gguf/init-errors.svg"
        default:
            basePath = "peft/base"
            adapterPath = "peft/adapter"
            plotPath = "peft/init-errors.svg"
        }
    }

    /// Layers that fell back to zero-init.
    public var fallbacks: [String] { layers.filter(\.fellBackToZero).map(\.module) }

    /// Layers whose correction may be zero: fallbacks and layers with nothing to correct.
    var zeroCorrectionAllowed: Set<String> {
        Set(layers.filter { $0.fellBackToZero || $0.nothingToCorrect }.map(\.module))
    }

    /// Mean relative calibrated error over the adapted layers.
    public var meanRelativeCalibratedError: Double {
        layers.isEmpty ? 0 : layers.reduce(0) { $0 + $1.relativeCalibratedError } / Double(layers.count)
    }

    /// Mean relative weight error over the adapted layers.
    public var meanRelativeWeightError: Double {
        layers.isEmpty ? 0 : layers.reduce(0) { $0 + $1.relativeWeightError } / Double(layers.count)
    }
}
