// SPDX-License-Identifier: Apache-2.0

/// The softmax numerators of `row[0..<valid]` in place, `exp(sᵢ − max s)`, with `row[valid..<count]` set to 0 (the
/// causal mask: transformers adds −∞ to masked scores before `softmax`, which gives exactly these zeros); returns
/// their sum, the softmax denominator.
///
/// Accumulated in F32 sixteen lanes at a time.
func maskedExponentials(_ row: UnsafeMutablePointer<Float>, valid: Int, count: Int) -> Float {
    precondition(valid > 0 && valid <= count, "softmax needs at least one unmasked score")
    let vectorEnd = valid & ~15
    var maxima = SIMD16<Float>(repeating: -.infinity)
    var i = 0
    while i < vectorEnd {
        let v = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD16<Float>.self)
        maxima.replace(with: v, where: v .> maxima)
        i += 16
    }
    var maximum = maxima.max()
    for j in vectorEnd..<valid { maximum = max(maximum, row[j]) }
    var sums = SIMD16<Float>(repeating: 0)
    i = 0
    while i < vectorEnd {
        let e = VectorMath.exp(UnsafeRawPointer(row + i).loadUnaligned(as: SIMD16<Float>.self) - maximum)
        UnsafeMutableRawPointer(row + i).storeBytes(of: e, as: SIMD16<Float>.self)
        sums += e
        i += 16
    }
    var sum = sums.sum()
    for j in vectorEnd..<valid {
        row[j] = VectorMath.exp(row[j] - maximum)
        sum += row[j]
    }
    for j in valid..<count { row[j] = 0 }
    return sum
}
