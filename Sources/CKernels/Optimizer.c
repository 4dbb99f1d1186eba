// See Optimizer.h. Written in C because Swift lowers a vector square root to one libm call per
// lane; here it is one instruction for eight values.
#pragma STDC FP_CONTRACT OFF

#include "Optimizer.h"

#include <math.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

__attribute__((target("avx"))) static long update_avx(float *w, const float *g, float *m, float *v, long count,
                                                      float decay, float beta1, float beta2, float stepSize,
                                                      float correction2Sqrt, float epsilon) {
    const __m256 d = _mm256_set1_ps(decay), oneMinusB1 = _mm256_set1_ps(1 - beta1), b2 = _mm256_set1_ps(beta2);
    const __m256 oneMinusB2 = _mm256_set1_ps(1 - beta2), step = _mm256_set1_ps(stepSize);
    const __m256 c2 = _mm256_set1_ps(correction2Sqrt), eps = _mm256_set1_ps(epsilon);
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i), wi = _mm256_loadu_ps(w + i);
        __m256 mi = _mm256_loadu_ps(m + i), vi = _mm256_loadu_ps(v + i);
        wi = _mm256_mul_ps(wi, d);
        mi = _mm256_add_ps(mi, _mm256_mul_ps(_mm256_sub_ps(gi, mi), oneMinusB1));
        vi = _mm256_add_ps(_mm256_mul_ps(vi, b2), _mm256_mul_ps(_mm256_mul_ps(oneMinusB2, gi), gi));
        __m256 denominator = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), c2), eps);
        wi = _mm256_sub_ps(wi, _mm256_div_ps(_mm256_mul_ps(step, mi), denominator));
        _mm256_storeu_ps(w + i, wi); _mm256_storeu_ps(m + i, mi); _mm256_storeu_ps(v + i, vi);
    }
    return i;
}
#endif

void lf_adamw_update(float *w, const float *g, float *m, float *v, long count, float decay, float beta1,
                     float beta2, float stepSize, float correction2Sqrt, float epsilon) {
    long i = 0;
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (__builtin_cpu_supports("avx")) {
        i = update_avx(w, g, m, v, count, decay, beta1, beta2, stepSize, correction2Sqrt, epsilon);
    }
#endif
    for (; i < count; i++) {
        w[i] *= decay;
        m[i] += (g[i] - m[i]) * (1 - beta1);
        v[i] = v[i] * beta2 + (1 - beta2) * g[i] * g[i];
        w[i] -= stepSize * m[i] / (sqrtf(v[i]) / correction2Sqrt + epsilon);
    }
}
