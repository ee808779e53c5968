// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import TensorCore

/// The built-in check of a written adapter: read back as its runtime reads it, every key maps to a base linear of
/// matching shape, the number of adapted layers is the one requested, and on a seeded probe input each layer's
/// correction `s·B·A·x` equals the solved one and is non-zero unless the layer fell back to zero-init or the
/// method is `zero`.
public enum AdapterCompatibility {
    /// What the check found.
    public struct Outcome: Sendable {
        /// Adapted layers found in the file.
        public let adaptedLayers: Int
        /// Adapted layers requested.
        public let requestedLayers: Int
        /// Largest `‖d_file − d_solved‖ / ‖d_solved‖` over the layers on the probe.
        public let largestProbeDeviation: Double
        /// For bundles with both runtimes: mean over layers of `‖(Q_p + Δ_p − Q_g − Δ_g)x‖ / ‖(Q_p − Q_g)x‖`, how
        /// far apart the two corrected layers are relative to the two bases (below 1: the adapters move both
        /// bases towards the same weights). Nil for one runtime.
        public var crossRuntimeRatio: Double?
    }

    /// The largest probe deviation accepted (the factors are stored in F32 exactly as solved).
    static let tolerance = 1e-5

    /// Reads the adapter at `url` for the base's hyperparameters and compares it with `solved`; zero
    /// corrections are accepted for the layers in `fallbacks`, and for every layer when `zeroMethod` is set.
    ///
    /// - Throws: ``InitError/incompatibleAdapter(path:reason:)`` naming the first broken rule; the reader's
    ///   errors for unmapped keys or mismatched shapes (they name the key).
    static func check(
        adapterAt url: URL, base: CheckpointWeights, solved: [LoRAAdapter.Update], fallbacks: Set<String>,
        zeroMethod: Bool
    ) throws -> Outcome {
        let adapter = try LoRAAdapter(contentsOf: url, for: base.hyperparameters)
        guard adapter.updates.count == solved.count else {
            throw InitError.incompatibleAdapter(
                path: url.path, reason: "\(adapter.updates.count) adapted layers, \(solved.count) requested")
        }
        var generator = SplitMix64(seed: 0x5155_4149_4c)
        var largest = 0.0
        for expected in solved {
            guard let found = adapter.updates[expected.weightName] else {
                throw InitError.incompatibleAdapter(path: url.path, reason: "\(expected.weightName) is not adapted")
            }
            let x = (0..<expected.a.columns).map { _ in Float(generator.nextGaussian()) }
            let fromFile = correction(found, x)
            let fromSolver = correction(expected, x)
            let reference = norm(fromSolver)
            let deviation = reference > 0 ? norm(zip(fromFile, fromSolver).map { $0 - $1 }) / reference : norm(fromFile)
            largest = max(largest, deviation)
            guard deviation <= tolerance else {
                throw InitError.incompatibleAdapter(
                    path: url.path,
                    reason: "\(expected.weightName): stored correction deviates by \(deviation) from the solved one")
            }
            let module = String(expected.weightName.dropLast(".weight".count))
            guard reference > 0 || zeroMethod || fallbacks.contains(module) else {
                throw InitError.incompatibleAdapter(path: url.path, reason: "\(module): the correction is zero")
            }
        }
        return Outcome(
            adaptedLayers: adapter.updates.count, requestedLayers: solved.count, largestProbeDeviation: largest)
    }

    /// `s · B · (A · x)` in float64.
    static func correction(_ update: LoRAAdapter.Update, _ x: [Float]) -> [Double] {
        let inner = product(update.a, x.map(Double.init))
        return product(update.b, inner).map { $0 * Double(update.scale) }
    }

    /// `m · v` in float64.
    static func product(_ m: Matrix, _ v: [Double]) -> [Double] {
        (0..<m.rows).map { row in
            var sum = 0.0
            for column in 0..<m.columns { sum += Double(m.values[row * m.columns + column]) * v[column] }
            return sum
        }
    }

    /// The Euclidean norm.
    static func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}
