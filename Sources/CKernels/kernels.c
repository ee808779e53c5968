// SPDX-License-Identifier: Apache-2.0
#include "CKernels.h"

#include <stdint.h>
#include <string.h>

#pragma clang fp contract(off)

#define LANES 16

/// `e^x`, Cephes `expf` scheme: `x = n·ln2 + r` with `|r| ≤ ln2/2` (ln2 split in a high and a low part), a degree-6
/// polynomial for `e^r` and `2^n` built in the exponent bits; about 2 ulp over the normal range, 0 below −87.3
/// (including −∞), +∞ above 88.37. Branch-free, so loops over it vectorize.
static inline __attribute__((always_inline)) float exp_approx(float x) {
    float c = x < -87.3f ? -87.3f : (x > 88.37f ? 88.37f : x);
    float shifted = c * 1.44269504f + 12582912.0f;  // adding 1.5·2²³ rounds to an integer in the low bits
    float n = shifted - 12582912.0f;
    float r = c - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    int32_t exponent = (int32_t)((uint32_t)(bits - 0x4B400000 + 127) << 23);
    float scale;
    memcpy(&scale, &exponent, sizeof scale);
    float result = p * scale;
    result = x < -87.3f ? 0.0f : result;
    return x > 88.37f ? __builtin_inff() : result;
}

static inline __attribute__((always_inline)) float maximum_of(const float *row, long count) {
    long end = count & ~(long)(LANES - 1);
    float lanes[LANES];
    for (int j = 0; j < LANES; j++) lanes[j] = -__builtin_inff();
    for (long i = 0; i < end; i += LANES)
        for (int j = 0; j < LANES; j++) lanes[j] = row[i + j] > lanes[j] ? row[i + j] : lanes[j];
    float maximum = -__builtin_inff();
    for (int j = 0; j < LANES; j++) maximum = lanes[j] > maximum ? lanes[j] : maximum;
    for (long i = end; i < count; i++) maximum = row[i] > maximum ? row[i] : maximum;
    return maximum;
}

static inline __attribute__((always_inline)) float masked_exponentials(float *row, long valid, long count) {
    float maximum = maximum_of(row, valid);
    long end = valid & ~(long)(LANES - 1);
    float lanes[LANES] = {0};
    for (long i = 0; i < end; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float e = exp_approx(row[i + j] - maximum);
            row[i + j] = e;
            lanes[j] += e;
        }
    float sum = 0;
    for (int j = 0; j < LANES; j++) sum += lanes[j];
    for (long i = end; i < valid; i++) {
        row[i] = exp_approx(row[i] - maximum);
        sum += row[i];
    }
    for (long i = valid; i < count; i++) row[i] = 0;
    return sum;
}

static inline __attribute__((always_inline)) void swiglu(const float *gate, const float *up, float *out, long count) {
    for (long i = 0; i < count; i++) out[i] = gate[i] / (1.0f + exp_approx(-gate[i])) * up[i];
}

static inline __attribute__((always_inline)) void rms_norm(
    const float *x, const float *weight, float epsilon, long count, float *out) {
    long end = count & ~(long)(LANES - 1);
    float lanes[LANES] = {0};
    for (long i = 0; i < end; i += LANES)
        for (int j = 0; j < LANES; j++) lanes[j] += x[i + j] * x[i + j];
    float sum = 0;
    for (int j = 0; j < LANES; j++) sum += lanes[j];
    for (long i = end; i < count; i++) sum += x[i] * x[i];
    float scale = 1.0f / __builtin_sqrtf(sum / (float)count + epsilon);
    for (long i = 0; i < count; i++) out[i] = weight[i] * (x[i] * scale);
}

static inline __attribute__((always_inline)) double exp_sum(const float *row, long count, float *maximum) {
    float largest = maximum_of(row, count);
    long end = count & ~(long)(LANES - 1);
    double sum = 0;
    for (long run = 0; run < end; run += 1024) {
        long runEnd = run + 1024 < end ? run + 1024 : end;
        float lanes[LANES] = {0};
        for (long i = run; i < runEnd; i += LANES)
            for (int j = 0; j < LANES; j++) lanes[j] += exp_approx(row[i + j] - largest);
        float partial = 0;
        for (int j = 0; j < LANES; j++) partial += lanes[j];
        sum += partial;
    }
    for (long i = end; i < count; i++) sum += exp_approx(row[i] - largest);
    *maximum = largest;
    return sum;
}

// One definition per variant: the baseline and AVX2 + FMA bodies are the same inlined code compiled for two
// targets. Other architectures have the baseline only.
#if defined(__x86_64__) || defined(__i386__)
#define AVX2 __attribute__((target("avx2,fma")))
#define VARIANT(avx2, baseline) (has_avx2() ? (avx2) : (baseline))
#else
#define VARIANT(avx2, baseline) (baseline)
#endif

static float masked_exponentials_baseline(float *row, long valid, long count) {
    return masked_exponentials(row, valid, count);
}
static void swiglu_baseline(const float *gate, const float *up, float *out, long count) {
    swiglu(gate, up, out, count);
}
static void rms_norm_baseline(const float *x, const float *weight, float epsilon, long count, float *out) {
    rms_norm(x, weight, epsilon, count, out);
}
static double exp_sum_baseline(const float *row, long count, float *maximum) {
    return exp_sum(row, count, maximum);
}

static int forced_baseline = 0;

void quail_kernels_use_baseline(int baseline) { __atomic_store_n(&forced_baseline, baseline != 0, __ATOMIC_RELAXED); }

#if defined(__x86_64__) || defined(__i386__)
AVX2 static float masked_exponentials_avx2(float *row, long valid, long count) {
    return masked_exponentials(row, valid, count);
}
AVX2 static void swiglu_avx2(const float *gate, const float *up, float *out, long count) {
    swiglu(gate, up, out, count);
}
AVX2 static void rms_norm_avx2(const float *x, const float *weight, float epsilon, long count, float *out) {
    rms_norm(x, weight, epsilon, count, out);
}
AVX2 static double exp_sum_avx2(const float *row, long count, float *maximum) {
    return exp_sum(row, count, maximum);
}

/// 1 when the AVX2 variant runs: the CPU has AVX2 and FMA (asked once; a racing first call stores the same value)
/// and the baseline is not forced.
static int has_avx2(void) {
    static int known = -1;
    int value = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (value < 0) {
        __builtin_cpu_init();
        value = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        __atomic_store_n(&known, value, __ATOMIC_RELAXED);
    }
    return value && !__atomic_load_n(&forced_baseline, __ATOMIC_RELAXED);
}
#endif

float quail_masked_exponentials(float *row, long valid, long count) {
    return VARIANT(masked_exponentials_avx2(row, valid, count),
                   masked_exponentials_baseline(row, valid, count));
}

void quail_swiglu(const float *gate, const float *up, float *out, long count) {
    VARIANT(swiglu_avx2(gate, up, out, count), swiglu_baseline(gate, up, out, count));
}

void quail_rms_norm(const float *x, const float *weight, float epsilon, long count, float *out) {
    VARIANT(rms_norm_avx2(x, weight, epsilon, count, out), rms_norm_baseline(x, weight, epsilon, count, out));
}

double quail_exp_sum(const float *row, long count, float *maximum) {
    return VARIANT(exp_sum_avx2(row, count, maximum), exp_sum_baseline(row, count, maximum));
}
