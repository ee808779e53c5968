// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// `IQ4_NL`: 32 elements in 18 bytes — f16 `d`, then 16 bytes of 4-bit indices into a fixed non-linear
/// grid; value = d·grid[q].
enum IQ4_NLBlock: GGMLBlockEncoding {
    static let type = GGMLType.iq4_NL
    static let blockSize = 32
    static let typeSize = 18

    /// The 16 grid values (`kvalues_iq4nl` in ggml-common.h).
    static let grid: [Int8] = [
        -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
    ]

    /// Same as `dequantize_row_iq4_nl` in ggml-quants.c.
    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = block.f16(at: 0)
        grid.withUnsafeBufferPointer { grid in
            LegacyBlock.forEachNibblePair(block + 2) { j, q0, q1 in
                y[j] = d * Float(grid[Int(q0)])
                y[j + 16] = d * Float(grid[Int(q1)])
            }
        }
    }

    /// Same as `quantize_iq4_nl` in ggml-quants.c without an importance matrix.
    ///
    /// That is the path `llama-quantize` and `ggml_quantize_chunk` take: `quantize_row_iq4_nl_impl` with one
    /// 32-element block, weights x², ntry 7. This differs from `quantize_row_iq4_nl_ref` (ntry −1), which leaves stale indices in blocks below
    /// `GROUP_MAX_EPS`.
    static func quantize(block x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        grid.withUnsafeBufferPointer { grid in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { levels in
                guard let grid = grid.baseAddress, let levels = levels.baseAddress else { return }
                let scale = NonLinearSearch.bestScale(x, grid: grid, tries: 7)
                block.storeF16(scale, at: 0)
                let id: Float = scale != 0 ? 1 / scale : 0
                for j in 0..<32 {
                    let scaled = id * x[j]
                    levels[j] = NonLinearSearch.nearestIndex(grid, scaled)
                }
                LegacyBlock.packNibbles(levels, into: block + 2)
            }
        }
    }
}

/// The scale search of ggml's `quantize_row_iq4_nl_impl` for one 32-element block without an importance matrix.
enum NonLinearSearch {
    /// Index of the grid value nearest to `x`; ties go to the upper neighbour (`best_index_int8` in ggml-quants.c).
    @inline(__always)
    static func nearestIndex(_ grid: UnsafePointer<Int8>, _ x: Float) -> UInt8 {
        if x <= Float(grid[0]) { return 0 }
        if x >= Float(grid[15]) { return 15 }
        var lower = 0
        var upper = 15
        while upper - lower > 1 {
            let middle = (lower + upper) / 2
            if x < Float(grid[middle]) { upper = middle } else { lower = middle }
        }
        return x - Float(grid[upper - 1]) < Float(grid[upper]) - x ? UInt8(upper - 1) : UInt8(upper)
    }

    /// The block scale: least-squares fit with weights x² over `2·tries + 1` trial inverse scales
    /// (same loop as `quantize_row_iq4_nl_impl`, `ntry > 0`, `quant_weights == NULL`).
    static func bestScale(_ x: UnsafePointer<Float>, grid: UnsafePointer<Int8>, tries: Int) -> Float
    {
        var amax: Float = 0
        var max: Float = 0
        for j in 0..<32 where abs(x[j]) > amax {
            amax = abs(x[j])
            max = x[j]
        }
        if amax < KQuantSearch.groupMaxEpsilon { return 0 }
        let first = Float(grid[0])
        // ntry > 0: d = -max/values[0]
        let d0 = -max / first
        var (sumqx, sumq2) = weightedSums(x, grid: grid, inverseScale: 1 / d0)
        var d: Float = sumq2 > 0 ? sumqx / sumq2 : 0
        var best = d * sumqx
        for attempt in -tries...tries {
            let id = (Float(attempt) + first) / max
            (sumqx, sumq2) = weightedSums(x, grid: grid, inverseScale: id)
            if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                d = sumqx / sumq2
                best = d * sumqx
            }
        }
        return d
    }

    /// Σ w·q·x and Σ w·q² with w = x² and q the nearest grid value of `inverseScale·x`.
    @inline(__always)
    private static func weightedSums(
        _ x: UnsafePointer<Float>, grid: UnsafePointer<Int8>, inverseScale id: Float
    ) -> (Float, Float) {
        var sumqx: Float = 0
        var sumq2: Float = 0
        for j in 0..<32 {
            let al = id * x[j]
            let q = Float(grid[Int(nearestIndex(grid, al))])
            let w = x[j] * x[j]
            sumqx += w * q * x[j]
            sumq2 += w * q * q
        }
        return (sumqx, sumq2)
    }
}
