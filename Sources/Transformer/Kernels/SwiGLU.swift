// SPDX-License-Identifier: Apache-2.0
import CKernels

/// `product = silu(gate) ⊙ up` with `silu(g) = g / (1 + e⁻ᵍ)` (transformers `LlamaMLP`: `act_fn(gate_proj(x)) *
/// up_proj(x)` with `hidden_act = "silu"`), by `quail_swiglu` row by row.
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
            quail_swiglu(gate, gate + width, product + t * width, width)
        }
    }
}
