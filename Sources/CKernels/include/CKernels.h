// SPDX-License-Identifier: Apache-2.0
// Element-wise kernels of the forward pass. Each is compiled twice, for the x86-64 baseline and for AVX2 + FMA,
// and the variant is picked at run time from the CPU's features (as ggml picks its CPU variants). Both variants
// round identically: floating-point contraction is off, and every reduction runs in the same sixteen lanes.
#pragma once

/// Replaces `row[0..<valid]` by `exp(row[i] - max)`, sets `row[valid..<count]` to 0 and returns the sum of the
/// exponentials (the softmax denominator). `valid` must be at least 1.
float quail_masked_exponentials(float *row, long valid, long count);

/// `out[i] = silu(gate[i]) * up[i]` with `silu(g) = g / (1 + exp(-g))`, for `i` in `0..<count`.
void quail_swiglu(const float *gate, const float *up, float *out, long count);

/// `out[i] = x[i] / sqrt(mean(x²) + epsilon) * weight[i]` over one row of `count` values; `out` may be `x`.
void quail_rms_norm(const float *x, const float *weight, float epsilon, long count, float *out);

/// The largest of `row[0..<count]` (`count` ≥ 1) and `Σ exp(row[i] - largest)`: F32 lanes over runs of 1024
/// values, the runs added in double. Writes the largest value to `*maximum`.
double quail_exp_sum(const float *row, long count, float *maximum);

/// Makes every later call run the baseline variant (`baseline` ≠ 0) or the best one the CPU has (0). For tests
/// that compare the variants; both give bit-identical results, so switching while other calls run is harmless.
void quail_kernels_use_baseline(int baseline);
