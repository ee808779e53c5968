// SPDX-License-Identifier: Apache-2.0

/// `out[t] = x[t] / sqrt(mean(x[t]²) + ε) ⊙ weight` for each row `t` (transformers `LlamaRMSNorm`, F32).
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
            let row = x + t * columns
            let target = out + t * columns
            var sum: Float = 0
            for c in 0..<columns { sum += row[c] * row[c] }
            let scale = 1 / (sum / Float(columns) + epsilon).squareRoot()
            for c in 0..<columns { target[c] = weight[c] * (row[c] * scale) }
        }
    }
}
