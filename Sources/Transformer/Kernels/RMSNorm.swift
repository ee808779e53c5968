// SPDX-License-Identifier: Apache-2.0
import CKernels

/// `out[t] = x[t] / sqrt(mean(x[t]²) + ε) ⊙ weight` for each row `t` (transformers `LlamaRMSNorm`, F32), by
/// `quail_rms_norm` row by row.
///
/// - Parameters:
///   - x: `(rows, columns)` input.
///   - weight: `(columns)` gain.
///   - out: `(rows, columns)`; may be `x` itself.
func rmsNorm(
    _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, epsilon: Float, rows: Int, columns: Int,
    into out: UnsafeMutablePointer<Float>, threads: Int
) {
    Parallel.forRanges(rows, threads: threads, grain: max(1, 32_768 / max(1, columns))) { range in
        for t in range {
            quail_rms_norm(x + t * columns, weight, epsilon, columns, out + t * columns)
        }
    }
}
