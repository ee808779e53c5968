// SPDX-License-Identifier: Apache-2.0
import Foundation

/// How a model scales its RoPE frequencies (QuailKit derives it from config.json's `rope_scaling` or GGUF keys).
public enum RotaryScaling: Equatable, Sendable {
    /// The plain frequencies `θ^(−2i/hd)`.
    case none
    /// Frequency `i` divided by `divisors[i]` (`hd/2` values): linear scaling, Llama 3's per-band factors, GGUF's
    /// `rope_freqs.weight`.
    case frequencyDivisors([Double])
    /// transformers' dynamic NTK scaling: a chunk of `T > contextLength` positions uses the base
    /// `θ · (factor·T/contextLength − (factor − 1))^(hd/(hd−2))`.
    case dynamicNTK(factor: Double, contextLength: Int)

    /// The inverse frequencies of a chunk of `positions` positions.
    func inverseFrequencies(headDim: Int, theta: Double, positions: Int) -> [Double] {
        var base = theta
        if case .dynamicNTK(let factor, let contextLength) = self, positions > contextLength {
            base *= pow(factor * Double(positions) / Double(contextLength) - (factor - 1),
                        Double(headDim) / Double(headDim - 2))
        }
        let plain = (0..<headDim / 2).map { i in 1 / pow(base, Double(2 * i) / Double(headDim)) }
        guard case .frequencyDivisors(let divisors) = self else { return plain }
        return zip(plain, divisors).map { $0 / $1 }
    }
}
