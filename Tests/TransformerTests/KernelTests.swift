// SPDX-License-Identifier: Apache-2.0
import CKernels
import Foundation
import LinearAlgebra
import Synchronization
import TensorCore
import Testing

@testable import Transformer

@Suite("Kernels")
struct KernelTests {
    @Test("RMSNorm with unit gain gives rows of RMS 1 and ignores the scale of its input")
    func rmsNormNormalizes() {
        var rng = SplitMix64(seed: 3)
        let (rows, columns) = (5, 24)
        let x = (0..<rows * columns).map { _ in Float(rng.nextGaussian() * 3) }
        let scaled = x.map { $0 * 7.5 }
        let ones = [Float](repeating: 1, count: columns)
        var a = [Float](repeating: 0, count: rows * columns)
        var b = a
        rmsNorm(x, weight: ones, epsilon: 0, rows: rows, columns: columns, into: &a, threads: 2)
        rmsNorm(scaled, weight: ones, epsilon: 0, rows: rows, columns: columns, into: &b, threads: 1)
        for r in 0..<rows {
            let row = a[r * columns..<(r + 1) * columns]
            #expect(abs(row.reduce(0) { $0 + $1 * $1 } / Float(columns) - 1) < 1e-5)
        }
        #expect(maxAbsDifference(a, b) < 1e-5)
        var gained = a
        let gain = (0..<columns).map { Float($0) - 3 }
        rmsNorm(x, weight: gain, epsilon: 0, rows: rows, columns: columns, into: &gained, threads: 2)
        for i in 0..<rows * columns { #expect(abs(gained[i] - a[i] * gain[i % columns]) < 1e-5) }
    }

    @Test("RoPE at position 0 is the identity and scores depend only on the relative position")
    func rotaryProperties() {
        var rng = SplitMix64(seed: 4)
        let hd = 8
        let x = (0..<2 * hd).map { _ in Float(rng.nextGaussian()) }
        var rotated = x
        applyRotary(
            &rotated, rows: 1, heads: 2, rowStride: 2 * hd,
            table: RotaryTable(positions: 0..<1, headDim: hd, theta: 10_000), threads: 1)
        #expect(rotated == x)

        // <rope(q, m), rope(k, n)> is a function of m − n.
        let q = Array(x[0..<hd])
        let k = Array(x[hd..<2 * hd])
        func dot(_ m: Int, _ n: Int) -> Float {
            let table = RotaryTable(positions: 0..<max(m, n) + 1, headDim: hd, theta: 10_000)
            var rows = [Float](repeating: 0, count: (max(m, n) + 1) * hd)
            var qs = rows
            qs.replaceSubrange(m * hd..<(m + 1) * hd, with: q)
            rows.replaceSubrange(n * hd..<(n + 1) * hd, with: k)
            applyRotary(&qs, rows: max(m, n) + 1, heads: 1, rowStride: hd, table: table, threads: 2)
            applyRotary(&rows, rows: max(m, n) + 1, heads: 1, rowStride: hd, table: table, threads: 1)
            return zip(qs[m * hd..<(m + 1) * hd], rows[n * hd..<(n + 1) * hd]).reduce(0) { $0 + $1.0 * $1.1 }
        }
        #expect(abs(dot(7, 3) - dot(4, 0)) < 1e-4)
        #expect(abs(dot(7, 3) - dot(3, 7)) > 1e-3)
    }

    @Test("attention over a single token returns its value heads, each query head reading its KV group")
    func singleTokenAttentionIsValue() {
        let c = TinyModel(seed: 1, heads: 4, kvHeads: 2).configuration
        var rng = SplitMix64(seed: 5)
        let q = (0..<c.queryWidth).map { _ in Float(rng.nextGaussian()) }
        let k = (0..<c.keyValueWidth).map { _ in Float(rng.nextGaussian()) }
        let v = (0..<c.keyValueWidth).map { _ in Float(rng.nextGaussian()) }
        var out = [Float](repeating: .nan, count: c.queryWidth)
        causalAttention(
            query: q, queryStride: c.queryWidth, key: k, value: v, keyValueStride: c.keyValueWidth, rows: 1,
            rotary: RotaryTable(positions: 0..<1, headDim: c.headDim, theta: 10_000), configuration: c, into: &out,
            threads: 2)
        for h in 0..<c.headCount {
            let g = h / c.headsPerKeyValueHead
            #expect(Array(out[h * c.headDim..<(h + 1) * c.headDim]) == Array(v[g * c.headDim..<(g + 1) * c.headDim]))
        }
    }

    @Test("masked exponentials return their sum, zero the masked scores, and survive huge scores")
    func softmaxIsStable() {
        var row: [Float] = [1000, 999, -1e30, 5, 1, 2, 3, 4, 5, 6, 7, 42, 42]
        let sum = maskedExponentials(&row, valid: 11, count: 13)
        #expect(row[0] == 1)  // the maximum's numerator
        #expect(abs(row.reduce(0, +) - sum) < 1e-6)
        #expect(row[11] == 0 && row[12] == 0)
        #expect(abs(row[0] / sum - 1 / (1 + Foundation.exp(-1))) < 1e-6)
        #expect(row[2] == 0)
        var long = (0..<40).map { Float($0 % 7) - 3 }  // the sixteen-lane path and a scalar tail
        let longSum = maskedExponentials(&long, valid: 37, count: 40)
        let expected = (0..<37).reduce(Float(0)) { $0 + Foundation.exp(Float($1 % 7) - 3 - 3) }
        #expect(abs(longSum - expected) < 1e-5)
        #expect(long[37...].allSatisfy { $0 == 0 })
    }

    @Test("the kernels' exp agrees with Foundation.exp within 3 ulp and underflows to 0")
    func vectorExp() {
        var worst: Float = 0
        for i in -8700...0 {
            let x = Float(i) / 100
            var row: [Float] = [0, x]  // the numerators are exp(0 − 0) and exp(x − 0)
            _ = maskedExponentials(&row, valid: 2, count: 2)
            let expected = Foundation.exp(x)
            worst = max(worst, abs(row[1] - expected) / expected.ulp)
        }
        #expect(worst <= 3)
        var tails: [Float] = [0, -.infinity, -100]
        _ = maskedExponentials(&tails, valid: 3, count: 3)
        #expect(tails == [1, 0, 0])
    }

    @Test("SwiGLU equals g / (1 + e⁻ᵍ) · u over a wide range of gates, including both row tails")
    func swiGLUMatchesDefinition() {
        let width = 37
        let rows = 3
        var rng = SplitMix64(seed: 12)
        let gateUp = (0..<rows * 2 * width).map { _ in Float(rng.nextGaussian() * 6) }
        var out = [Float](repeating: .nan, count: rows * width)
        swiGLU(gateUp: gateUp, rows: rows, width: width, into: &out, threads: 2)
        for t in 0..<rows {
            for i in 0..<width {
                let g = Double(gateUp[t * 2 * width + i])
                let u = Double(gateUp[t * 2 * width + width + i])
                let expected = g / (1 + Foundation.exp(-g)) * u
                #expect(abs(Double(out[t * width + i]) - expected) <= 1e-5 * max(1, abs(expected)))
            }
        }
    }

    @Test("RoPE scaling: divisors divide the frequencies; dynamic NTK changes the base only past the context length")
    func rotaryScaling() {
        let plain = RotaryScaling.none.inverseFrequencies(headDim: 8, theta: 10_000, positions: 100)
        #expect(plain.count == 4 && plain[0] == 1 && abs(plain[2] - 0.01) < 1e-15)
        let divisors: [Double] = [1, 2, 4, 8]
        let divided = RotaryScaling.frequencyDivisors(divisors).inverseFrequencies(
            headDim: 8, theta: 10_000, positions: 100)
        #expect(zip(zip(divided, plain), divisors).allSatisfy { abs($0.0 * $1 - $0.1) < 1e-15 })
        let table = RotaryTable(
            positions: 0..<10, headDim: 8, theta: 10_000, scaling: .frequencyDivisors(divisors))
        #expect(table.cosines[3 * 4 + 1] == Float(cos(3 * plain[1] / 2)))
        let dynamic = RotaryScaling.dynamicNTK(factor: 4, contextLength: 64)
        #expect(dynamic.inverseFrequencies(headDim: 8, theta: 10_000, positions: 64) == RotaryScaling.none
            .inverseFrequencies(headDim: 8, theta: 10_000, positions: 64))
        let base = 10_000 * pow(4.0 * 128 / 64 - 3, 8.0 / 6)
        let long = dynamic.inverseFrequencies(headDim: 8, theta: 10_000, positions: 128)
        #expect(abs(long[1] - 1 / pow(base, 2.0 / 8)) < 1e-15)
    }

    @Test("addBias adds the bias to every row, on any thread count")
    func biasOnEveryRow() {
        var rng = SplitMix64(seed: 23)
        let (rows, width) = (37, 29)
        let x = (0..<rows * width).map { _ in Float(rng.nextGaussian()) }
        let bias = (0..<width).map { _ in Float(rng.nextGaussian()) }
        for threads in [1, 2, 3] {
            var out = x
            addBias(bias, to: &out, rows: rows, threads: threads)
            #expect(out == (0..<rows * width).map { x[$0] + bias[$0 % width] })
        }
    }

    @Test("parallel ranges cover the work once, in contiguous pieces no smaller than the grain")
    func parallelRanges() {
        let seen = Mutex<[Range<Int>]>([])
        Parallel.forRanges(100, threads: 3, grain: 40) { range in seen.withLock { $0.append(range) } }
        let ranges = seen.withLock { $0 }.sorted { $0.lowerBound < $1.lowerBound }
        #expect(ranges.count == 2)
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == 100)
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(ranges.allSatisfy { $0.count >= 40 })
        let hits = Mutex<[Int]>([])
        Parallel.forEach(37, threads: 2) { i, worker in hits.withLock { $0.append(i + 100 * worker) } }
        #expect(hits.withLock { $0 }.map { $0 % 100 }.sorted() == Array(0..<37))
        #expect(hits.withLock { $0 }.allSatisfy { $0 / 100 < 2 })
    }

    @Test("raw-pointer sgemm with strides and accumulation agrees with a triple loop")
    func stridedGemm() {
        var rng = SplitMix64(seed: 9)
        let (m, n, k, lda, ldb, ldc) = (5, 3, 4, 7, 6, 9)
        let a = (0..<m * lda).map { _ in Float(rng.nextGaussian()) }
        let b = (0..<n * ldb).map { _ in Float(rng.nextGaussian()) }  // op(b) = bᵀ, b stored (n, k) with stride ldb
        var c = (0..<m * ldc).map { _ in Float(rng.nextGaussian()) }
        let before = c
        BLAS.gemm(
            .none, .transpose, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: &c, ldc: ldc)
        for i in 0..<m {
            for j in 0..<ldc {
                guard j < n else {
                    #expect(c[i * ldc + j] == before[i * ldc + j])
                    continue
                }
                let dot = (0..<k).reduce(Float(0)) { $0 + a[i * lda + $1] * b[j * ldb + $1] }
                #expect(abs(c[i * ldc + j] - (before[i * ldc + j] + 0.5 * dot)) < 1e-5)
            }
        }
    }

    @Test(
        "linear splits the output features over the threads and equals a triple loop, with accumulation and a wider output stride"
    )
    func linearSplitsFeatures() {
        var rng = SplitMix64(seed: 10)
        let (rows, inputs, features, stride) = (6, 5, 3 * featureAlignment + 5, 3 * featureAlignment + 9)
        let x = (0..<rows * inputs).map { _ in Float(rng.nextGaussian()) }
        let weight = Matrix(
            rows: features, columns: inputs, values: (0..<features * inputs).map { _ in Float(rng.nextGaussian()) })
        let start = (0..<rows * stride).map { _ in Float(rng.nextGaussian()) }
        for threads in [1, 2, 3] {
            for accumulate in [false, true] {
                var out = start
                linear(
                    x, rows: rows, weight: weight, into: &out, outStride: stride, accumulate: accumulate,
                    threads: threads)
                for t in 0..<rows {
                    for j in 0..<stride {
                        let i = t * stride + j
                        guard j < features else {
                            #expect(out[i] == start[i])
                            continue
                        }
                        let dot = (0..<inputs).reduce(Float(0)) {
                            $0 + x[t * inputs + $1] * weight.values[j * inputs + $1]
                        }
                        #expect(abs(out[i] - ((accumulate ? start[i] : 0) + dot)) < 1e-5)
                    }
                }
            }
        }
    }

    @Test("the baseline and AVX2 variants of the C kernels give bit-identical results")
    func kernelVariantsAgree() {
        var rng = SplitMix64(seed: 13)
        let width = 1024 + 37
        let input = (0..<2 * width).map { _ in Float(rng.nextGaussian() * 5) }
        let gain = (0..<width).map { _ in Float(rng.nextGaussian()) }
        func run() -> [Float] {
            var scores = Array(input[0..<width])
            let sum = maskedExponentials(&scores, valid: width - 20, count: width)
            var product = [Float](repeating: 0, count: width)
            swiGLU(gateUp: input, rows: 1, width: width, into: &product, threads: 1)
            var normed = [Float](repeating: 0, count: width)
            rmsNorm(input, weight: gain, epsilon: 1e-5, rows: 1, columns: width, into: &normed, threads: 1)
            let (maximum, expSum) = input.withUnsafeBufferPointer { exponentialSum($0) }
            return scores + [sum] + product + normed + [maximum, Float(expSum), Float(expSum - Double(Float(expSum)))]
        }
        let best = run()
        quail_kernels_use_baseline(1)
        let baseline = run()
        quail_kernels_use_baseline(0)
        #expect(best.map(\.bitPattern) == baseline.map(\.bitPattern))
    }
}
