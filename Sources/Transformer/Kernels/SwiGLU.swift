// SPDX-License-Identifier: Apache-2.0

/// `gate ← silu(gate) ⊙ up`, with `silu(g) = g / (1 + e⁻ᵍ)` (transformers `LlamaMLP`: `act_fn(gate_proj(x)) *
/// up_proj(x)` with `hidden_act = "silu"`).
///
/// - Parameters:
///   - gate: `(count)` gate projections, overwritten by the product.
///   - up: `(count)` up projections.
func swiGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int, threads: Int) {
    Parallel.forRanges(count, threads: threads, grain: 65_536) { range in
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let g = UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD8<Float>.self)
            let u = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD8<Float>.self)
            let product = g / (1 + VectorMath.exp(-g)) * u
            UnsafeMutableRawPointer(gate + i).storeBytes(of: product, as: SIMD8<Float>.self)
            i += 8
        }
        while i < range.upperBound {
            gate[i] = gate[i] / (1 + VectorMath.exp(-gate[i])) * up[i]
            i += 1
        }
    }
}
