// SPDX-License-Identifier: Apache-2.0
import CKernels

/// The softmax numerators of `row[0..<valid]` in place, `exp(sᵢ − max s)`, with `row[valid..<count]` set to 0 (the
/// causal mask: transformers adds −∞ to masked scores before `softmax`, which gives exactly these zeros); returns
/// their sum, the softmax denominator (`quail_masked_exponentials`).
func maskedExponentials(_ row: UnsafeMutablePointer<Float>, valid: Int, count: Int) -> Float {
    precondition(valid > 0 && valid <= count, "softmax needs at least one unmasked score")
    return quail_masked_exponentials(row, valid, count)
}

/// The largest value of `row` and `Σ exp(row[i] − largest)`, the two halves of `log Σ exp(row)`: the exponentials
/// summed in F32 lanes over runs of 1024 values and the runs in double (`quail_exp_sum`). Traps on an empty row.
public func exponentialSum(_ row: UnsafeBufferPointer<Float>) -> (maximum: Float, sum: Double) {
    guard let base = row.baseAddress, !row.isEmpty else { preconditionFailure("empty row") }
    var maximum: Float = 0
    let sum = quail_exp_sum(base, row.count, &maximum)
    return (maximum, sum)
}
