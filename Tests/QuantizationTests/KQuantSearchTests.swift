// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore
import Testing

@testable import Quantization

/// The side-by-side (one SIMD lane per sub-block) scale searches against the one-sub-block-at-a-time ports they
/// replace for Q4_K/Q5_K; the latter stays in use for Q2_K and is checked against ggml by the reference vectors.
@Suite("k-quant scale searches")
struct KQuantSearchTests {
    /// 256-element blocks that reach the search's edge cases: flat and all-zero sub-blocks, one-signed data,
    /// subnormal, tiny and huge magnitudes (whose ranges overflow), outliers and exactly representable grids.
    static func blocks() -> [[Float]] {
        var rng = SplitMix64(seed: 0x5EA2C4)
        func gaussian(_ scale: Float) -> [Float] { (0..<256).map { _ in Float(rng.nextGaussian()) * scale } }
        var blocks: [[Float]] = [
            [Float](repeating: 0, count: 256), [Float](repeating: 3.5, count: 256),
            [Float](repeating: -2, count: 256), gaussian(1).map { -abs($0) }, gaussian(1).map { abs($0) },
            gaussian(1e-30), gaussian(1e-42), gaussian(1e30), gaussian(3e38), gaussian(1).map { $0 - 5 },
            gaussian(1).map { $0 + 5 }, gaussian(4).map { ($0 * 4).rounded() / 4 },
        ]
        var mixed = gaussian(1)
        mixed[5] = 1e4
        for i in 0..<32 { mixed[32 + i] = 0 }
        for i in 0..<32 { mixed[96 + i] = 1 }
        for i in 0..<32 { mixed[160 + i] *= 1e-8 }
        mixed[200] = -Float.greatestFiniteMagnitude
        blocks.append(mixed)
        for exponent in stride(from: -20, through: 20, by: 4) {
            blocks.append(gaussian(Float(pow(10, Double(exponent)))))
        }
        return blocks
    }

    @Test("affineLevels8 equals eight affineLevels calls bit for bit (Q4_K and Q5_K parameters)")
    func affineLanesMatchScalar() throws {
        let searches = [
            KQuantSearch.AffineSearch(nmax: 15, rmin: -1, rdelta: 0.1, steps: 20, absoluteError: false),
            KQuantSearch.AffineSearch(nmax: 31, rmin: -0.5, rdelta: 0.1, steps: 15, absoluteError: false),
        ]
        for search in searches {
            for x in Self.blocks() {
                var laneLevels = [UInt8](repeating: 0xAA, count: 256)
                var scalarLevels = [UInt8](repeating: 0x55, count: 256)
                var scalarScales = [Float](repeating: 0, count: 8)
                var scalarOffsets = [Float](repeating: 0, count: 8)
                let lanes = x.withUnsafeBufferPointer { source in
                    laneLevels.withUnsafeMutableBufferPointer { levels in
                        KQuantSearch.affineLevels8(
                            source.baseAddress!, search: search, into: levels.baseAddress!)
                    }
                }
                x.withUnsafeBufferPointer { source in
                    scalarLevels.withUnsafeMutableBufferPointer { levels in
                        var aux = [UInt8](repeating: 0, count: 32)
                        var weights = [Float](repeating: 0, count: 32)
                        for j in 0..<8 {
                            let xb = source.baseAddress! + 32 * j
                            var sumX2: Float = 0
                            for l in 0..<32 { sumX2 += xb[l] * xb[l] }
                            let averageX = (sumX2 / 32).squareRoot()
                            for l in 0..<32 { weights[l] = averageX + abs(xb[l]) }
                            (scalarScales[j], scalarOffsets[j]) = KQuantSearch.affineLevels(
                                xb, weights: weights, count: 32, search: search,
                                into: levels.baseAddress! + 32 * j, scratch: &aux)
                        }
                    }
                }
                #expect(laneLevels == scalarLevels)
                #expect((0..<8).map { lanes.scale[$0].bitPattern } == scalarScales.map(\.bitPattern))
                #expect((0..<8).map { lanes.offset[$0].bitPattern } == scalarOffsets.map(\.bitPattern))
            }
        }
    }
}
