// SPDX-License-Identifier: Apache-2.0

/// `product = silu(gate) ⊙ up` with `silu(g) = g / (1 + e⁻ᵍ)` (transformers `LlamaMLP`: `act_fn(gate_proj(x)) *
/// up_proj(x)` with `hidden_act = "silu"`).
///
/// - Parameters:
///   - gateUp: `(rows, 2F)`: the gate projections in columns `0..<F`, the up projections in `F..<2F`.
///   - product: `(rows, F)`, contiguous.
func swiGLU(
    gateUp: UnsafePointer<Float>, rows: Int, width: Int, into product: UnsafeMutablePointer<Float>, threads: Int
) {
    Parallel.forRanges(rows, threads: threads, grain: max(1, 65_536 / max(1, width))) { range in
        for t in range {
            let gate = gateUp + t * 2 * width
            let up = gate + width
            let out = product + t * width
            var i = 0
            while i + 16 <= width {
                let g = UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD16<Float>.self)
                let u = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(out + i).storeBytes(
                    of: g / (1 + VectorMath.exp(-g)) * u, as: SIMD16<Float>.self)
                i += 16
            }
            while i < width {
                out[i] = gate[i] / (1 + VectorMath.exp(-gate[i])) * up[i]
                i += 1
            }
        }
    }
}
