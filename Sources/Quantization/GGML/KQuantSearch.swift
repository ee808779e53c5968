// SPDX-License-Identifier: Apache-2.0

/// The per-sub-block scale searches of ggml's reference K-quant quantizers (no importance matrix).
///
/// Every expression keeps ggml's operand order and float rounding: these are ports of `make_qx_quants`,
/// `make_q3_quants` and `make_qkx2_quants` in ggml-quants.c, compiled there without FMA contraction.
enum KQuantSearch {
    /// ggml's `GROUP_MAX_EPS`: sub-blocks whose largest magnitude is below it are stored as zeros.
    static let groupMaxEpsilon: Float = 1e-15

    @inline(__always)
    private static func clamp(_ value: Int32, _ low: Int32, _ high: Int32) -> Int32 {
        Swift.max(low, Swift.min(high, value))
    }

    /// The value with the largest magnitude (first on ties) and that magnitude.
    @inline(__always)
    private static func signedMax(_ x: UnsafePointer<Float>, count n: Int) -> (
        max: Float, amax: Float
    ) {
        var amax: Float = 0
        var max: Float = 0
        for i in 0..<n where abs(x[i]) > amax {
            amax = abs(x[i])
            max = x[i]
        }
        return (max, amax)
    }

    /// Symmetric levels `L[i] ∈ 0..<2·nmax` with weights x², trying 18 nudged scales, for the 16 sub-blocks of
    /// 16 elements of one 256-element block at once; returns the 16 scales.
    ///
    /// Same as 16 calls of `make_qx_quants(16, nmax, x + 16·j, L + 16·j, rmse_type = 1, qw = NULL)` in
    /// ggml-quants.c (used by Q6_K). Lane `j` runs sub-block `j`: every lane performs ggml's float operations in
    /// ggml's order (the sums run over the elements one by one), so the results are bit-identical; only the
    /// sub-blocks run side by side. A trial's levels are recomputed from its scale at the end instead of being
    /// stored on every improvement (`nearest_int` of the same product gives the same levels).
    static func symmetricLevels16(
        _ x: UnsafePointer<Float>, nmax: Int32, into levels: UnsafeMutablePointer<UInt8>
    ) -> GGMLRounding.Lanes {
        typealias Lanes = GGMLRounding.Lanes
        return withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 48) { buffer -> Lanes in
            guard let columns = buffer.baseAddress else { return Lanes() }
            // columns[i] holds element i of every sub-block; weights x², and x²·x as ggml's `w*x[i]`.
            let weights = columns + 16
            let weightedX = columns + 32
            var amax = Lanes(repeating: 0)
            var max = Lanes(repeating: 0)
            for i in 0..<16 {
                var column = Lanes()
                for j in 0..<16 { column[j] = x[16 * j + i] }
                columns[i] = column
                weights[i] = column * column
                weightedX[i] = weights[i] * column
                // `if (ax > amax)`: the first element of largest magnitude per sub-block.
                let a = GGMLRounding.magnitude(column)
                let larger = a .> amax
                amax.replace(with: a, where: larger)
                max.replace(with: column, where: larger)
            }
            let low = Lanes(repeating: Float(-nmax))
            let high = Lanes(repeating: Float(nmax - 1))
            let shift = Lanes(repeating: GGMLRounding.roundingShift)
            // `MAX(-nmax, MIN(nmax-1, nearest_int(v)))` as a float: |v| stays far below 2²² here.
            @inline(__always)
            func level(_ v: Lanes) -> Lanes {
                let rounded = (v + shift) - shift
                return rounded.replacing(with: high, where: rounded .> high)
                    .replacing(with: low, where: rounded .< low)
            }
            @inline(__always)
            func sums(_ iscale: Lanes) -> (sumlx: Lanes, suml2: Lanes) {
                var sumlx = Lanes(repeating: 0)
                var suml2 = Lanes(repeating: 0)
                for i in 0..<16 {
                    let l = level(iscale * columns[i])
                    sumlx += weightedX[i] * l
                    suml2 += weights[i] * l * l
                }
                return (sumlx, suml2)
            }
            var bestIscale = Lanes(repeating: Float(-nmax)) / max
            var (sumlx, suml2) = sums(bestIscale)
            var scale = (sumlx / suml2).replacing(with: 0, where: suml2 .== 0)
            var best = scale * sumlx
            for step in -9...9 where step != 0 {
                let iscale = Lanes(repeating: -(Float(nmax) + 0.1 * Float(step))) / max
                (sumlx, suml2) = sums(iscale)
                let better = (suml2 .> 0) .& (sumlx * sumlx .> best * suml2)
                let trial = sumlx / suml2
                bestIscale.replace(with: iscale, where: better)
                scale.replace(with: trial, where: better)
                best.replace(with: trial * sumlx, where: better)
            }
            // Sub-blocks below GROUP_MAX_EPS: all levels 0, scale 0.
            let flat = amax .< groupMaxEpsilon
            scale.replace(with: 0, where: flat)
            let bias = Lanes(repeating: Float(nmax))
            for i in 0..<16 {
                let l = (level(bestIscale * columns[i]) + bias).replacing(with: 0, where: flat)
                for j in 0..<16 { levels[16 * j + i] = GGMLRounding.integerLowByte(l[j]) }
            }
            return scale
        }
    }

    /// Symmetric 3-bit levels `L[i] ∈ 0..<2·nmax`, refined one element at a time; returns the scale.
    ///
    /// Same as `make_q3_quants(n, nmax, x, L, do_rmse = true)` in ggml-quants.c (used by Q3_K).
    static func iterativeLevels(
        _ x: UnsafePointer<Float>, count n: Int, nmax: Int32,
        into levels: UnsafeMutablePointer<UInt8>
    ) -> Float {
        let (max, amax) = signedMax(x, count: n)
        if amax < groupMaxEpsilon {
            levels.update(repeating: 0, count: n)
            return 0
        }
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: n) { buffer -> Float in
            guard let signed = buffer.baseAddress else { return 0 }
            let iscale = Float(-nmax) / max
            var sumlx: Float = 0
            var suml2: Float = 0
            for i in 0..<n {
                let l = clamp(GGMLRounding.nearestInt(iscale * x[i]), -nmax, nmax - 1)
                signed[i] = l
                let w = x[i] * x[i]
                sumlx += w * x[i] * Float(l)
                suml2 += w * Float(l) * Float(l)
            }
            for _ in 0..<5 {
                var changed = 0
                for i in 0..<n {
                    let w = x[i] * x[i]
                    var slx = sumlx - w * x[i] * Float(signed[i])
                    guard slx > 0 else { continue }
                    var sl2 = suml2 - w * Float(signed[i]) * Float(signed[i])
                    let candidate = clamp(
                        GGMLRounding.nearestInt(x[i] * sl2 / slx), -nmax, nmax - 1)
                    guard candidate != signed[i] else { continue }
                    slx += w * x[i] * Float(candidate)
                    sl2 += w * Float(candidate) * Float(candidate)
                    if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                        signed[i] = candidate
                        sumlx = slx
                        suml2 = sl2
                        changed += 1
                    }
                }
                if changed == 0 { break }
            }
            for i in 0..<n { levels[i] = UInt8(truncatingIfNeeded: signed[i] + nmax) }
            return suml2 > 0 ? sumlx / suml2 : 0
        }
    }

    /// The parameters of one `make_qkx2_quants` search.
    struct AffineSearch {
        /// Largest level (3, 15 or 31).
        var nmax: Int32
        /// First trial offset added to `nmax` (`rmin`).
        var rmin: Float
        /// Trial step (`rdelta`).
        var rdelta: Float
        /// Number of trial steps after the first (`nstep`, at least 1 here).
        var steps: Int
        /// Minimise absolute instead of squared error (`use_mad`).
        var absoluteError: Bool
    }

    /// Affine levels `L[i] ∈ 0...nmax` with value ≈ scale·L − offset; returns `(scale, offset)` with offset ≥ 0.
    ///
    /// Same as `make_qkx2_quants` in ggml-quants.c (used by Q2_K; Q4_K and Q5_K run ``affineLevels8(_:search:into:)``);
    /// `aux` is scratch of `n` bytes.
    static func affineLevels(
        _ x: UnsafePointer<Float>, weights: UnsafePointer<Float>, count n: Int,
        search: AffineSearch,
        into levels: UnsafeMutablePointer<UInt8>, scratch aux: UnsafeMutablePointer<UInt8>
    ) -> (scale: Float, offset: Float) {
        let nmax = search.nmax
        var min = x[0]
        var max = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < min { min = x[i] }
            if x[i] > max { max = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if min > 0 { min = 0 }
        if max == min {
            levels.update(repeating: 0, count: n)
            return (0, -min)
        }
        func error(_ scale: Float, _ offset: Float, _ l: UnsafeMutablePointer<UInt8>) -> Float {
            var total: Float = 0
            for i in 0..<n {
                var diff = scale * Float(l[i]) + offset - x[i]
                diff = search.absoluteError ? abs(diff) : diff * diff
                total += weights[i] * diff
            }
            return total
        }
        var iscale = Float(nmax) / (max - min)
        var scale = 1 / iscale
        for i in 0..<n {
            let l = GGMLRounding.nearestInt(iscale * (x[i] - min))
            levels[i] = UInt8(truncatingIfNeeded: clamp(l, 0, nmax))
        }
        var bestError = error(scale, min, levels)
        for step in 0...search.steps {
            iscale = (search.rmin + search.rdelta * Float(step) + Float(nmax)) / (max - min)
            var sumL: Float = 0
            var sumL2: Float = 0
            var sumXL: Float = 0
            for i in 0..<n {
                let l = clamp(GGMLRounding.nearestInt(iscale * (x[i] - min)), 0, nmax)
                aux[i] = UInt8(truncatingIfNeeded: l)
                let w = weights[i]
                let lf = Float(l)
                sumL += w * lf
                sumL2 += w * lf * lf
                sumXL += w * lf * x[i]
            }
            let determinant = sumW * sumL2 - sumL * sumL
            guard determinant > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / determinant
            var thisMin = (sumL2 * sumX - sumL * sumXL) / determinant
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            let currentError = error(thisScale, thisMin, aux)
            if currentError < bestError {
                levels.update(from: aux, count: n)
                bestError = currentError
                scale = thisScale
                min = thisMin
            }
        }
        return (scale, -min)
    }

    /// Affine levels `L[i] ∈ 0...nmax` for the 8 sub-blocks of 32 elements of one 256-element block at once, with
    /// Q4_K/Q5_K's weights `sqrt(mean(x²)) + |x|`; returns the 8 scales and the 8 offsets (≥ 0).
    ///
    /// Same as the weight computation and the 8 calls of `make_qkx2_quants(32, nmax, x + 32·j, weights, …)` in
    /// `quantize_row_q4_K_ref` / `quantize_row_q5_K_ref` (ggml-quants.c). Lane `j` runs sub-block `j` with
    /// ggml's float operations in ggml's order (every sum runs over the elements one by one), so the results are
    /// bit-identical to ``affineLevels(_:weights:count:search:into:scratch:)``. The best trial's levels are
    /// recomputed at the end from its `iscale` and the `min` it was computed with, instead of being copied on
    /// every improvement.
    static func affineLevels8(
        _ x: UnsafePointer<Float>, search: AffineSearch, into levels: UnsafeMutablePointer<UInt8>
    ) -> (scale: GGMLRounding.Lanes8, offset: GGMLRounding.Lanes8) {
        typealias Lanes = GGMLRounding.Lanes8
        return withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 96) {
            buffer -> (scale: Lanes, offset: Lanes) in
            guard let columns = buffer.baseAddress else { return (Lanes(), Lanes()) }
            // columns[i] holds element i of every sub-block; aux the levels of the current trial.
            let weights = columns + 32
            let aux = columns + 64
            var sumX2 = Lanes(repeating: 0)
            for i in 0..<32 {
                var column = Lanes()
                for j in 0..<8 { column[j] = x[32 * j + i] }
                columns[i] = column
                sumX2 += column * column
            }
            let averageX = (sumX2 / 32).squareRoot()
            for i in 0..<32 { weights[i] = averageX + GGMLRounding.magnitude(columns[i]) }
            var min = columns[0]
            var max = columns[0]
            var sumW = weights[0]
            var sumX = sumW * columns[0]
            for i in 1..<32 {
                let c = columns[i]
                min.replace(with: c, where: c .< min)
                max.replace(with: c, where: c .> max)
                let w = weights[i]
                sumW += w
                sumX += w * c
            }
            min.replace(with: 0, where: min .> 0)
            // `if (max == min)`: levels 0, scale 0, offset −min.
            let flat = max .== min
            // `-min` as C negates (a sign flip): SIMD's prefix minus computes `0 − min`, which turns −0 into +0.
            let negativeZero = Lanes(repeating: -0.0)
            let flatOffset = negativeZero - min
            let nmax = search.nmax
            @inline(__always)
            func trialLevels(_ iscale: Lanes, _ offset: Lanes, _ i: Int) -> Lanes {
                Lanes(GGMLRounding.nearestLevel(iscale * (columns[i] - offset), top: nmax))
            }
            @inline(__always)
            func error(_ scale: Lanes, _ offset: Lanes) -> Lanes {
                var total = Lanes(repeating: 0)
                for i in 0..<32 {
                    var diff = scale * aux[i] + offset - columns[i]
                    diff = search.absoluteError ? GGMLRounding.magnitude(diff) : diff * diff
                    total += weights[i] * diff
                }
                return total
            }
            var iscale = Lanes(repeating: Float(nmax)) / (max - min)
            var scale = 1 / iscale
            for i in 0..<32 { aux[i] = trialLevels(iscale, min, i) }
            var bestError = error(scale, min)
            var levelIscale = iscale
            var levelMin = min
            for step in 0...search.steps {
                let numerator = search.rmin + search.rdelta * Float(step) + Float(nmax)
                iscale = Lanes(repeating: numerator) / (max - min)
                var sumL = Lanes(repeating: 0)
                var sumL2 = Lanes(repeating: 0)
                var sumXL = Lanes(repeating: 0)
                for i in 0..<32 {
                    let l = trialLevels(iscale, min, i)
                    aux[i] = l
                    let w = weights[i]
                    sumL += w * l
                    sumL2 += w * l * l
                    sumXL += w * l * columns[i]
                }
                let determinant = sumW * sumL2 - sumL * sumL
                var thisScale = (sumW * sumXL - sumX * sumL) / determinant
                var thisMin = (sumL2 * sumX - sumL * sumXL) / determinant
                let positive = thisMin .> 0
                thisMin.replace(with: 0, where: positive)
                thisScale.replace(with: sumXL / sumL2, where: positive)
                let currentError = error(thisScale, thisMin)
                let better = (determinant .> 0) .& (currentError .< bestError)
                bestError.replace(with: currentError, where: better)
                scale.replace(with: thisScale, where: better)
                levelIscale.replace(with: iscale, where: better)
                levelMin.replace(with: min, where: better)
                min.replace(with: thisMin, where: better)
            }
            for i in 0..<32 {
                let l = GGMLRounding.nearestLevel(levelIscale * (columns[i] - levelMin), top: nmax)
                    .replacing(with: 0, where: flat)
                for j in 0..<8 { levels[32 * j + i] = UInt8(truncatingIfNeeded: l[j]) }
            }
            let offset = (negativeZero - min).replacing(with: flatOffset, where: flat)
            return (scale.replacing(with: 0, where: flat), offset)
        }
    }

    /// Re-derives levels from the stored (f16-rounded) scale: `l = clamp(nearest_int((x + dm)/d), low, high)`.
    ///
    /// The final pass of every `quantize_row_q*_K_ref`; leaves `levels` untouched when `d == 0`
    /// (`if (!d) continue;` — a NaN `d` is not skipped, as in C).
    @inline(__always)
    static func requantize(
        _ x: UnsafePointer<Float>, count n: Int, d: Float, dm: Float, low: Int32, high: Int32,
        bias: Int32,
        into levels: UnsafeMutablePointer<UInt8>
    ) {
        if d == 0 { return }
        for i in 0..<n {
            let l = clamp(GGMLRounding.nearestInt((x[i] + dm) / d), low, high)
            levels[i] = UInt8(truncatingIfNeeded: l + bias)
        }
    }
}
