// Quantised-weight matrix products; see QuantizedKernels.h for the formats and the contract.
//
// Two code paths do the same arithmetic:
//   - portable C, for any CPU;
//   - AVX2 + FMA + F16C intrinsics, compiled for those instructions only inside the functions
//     marked TARGET_AVX2 and chosen at run time, so the library still runs on older x86-64 CPUs.
// A weight is always expanded as d·q (+ m) with two separate roundings, exactly as the fp32
// dequantisation does, and only the multiply-accumulate with x is fused.
#pragma STDC FP_CONTRACT OFF

#include "QuantizedKernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define HAVE_X86_KERNELS 1
#include <immintrin.h>
#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#else
#define HAVE_X86_KERNELS 0
#endif

enum { BLOCK = 32 };

size_t lf_quant_block_bytes(LFQuantFormat format) {
    switch (format) {
    case LFQuantQ4_0: return 18;
    case LFQuantQ4_1: return 20;
    case LFQuantQ8_0: return 34;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Portable path

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/// IEEE half → float, including subnormals, infinities and NaN.
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF, bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000 | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {  // subnormal: normalise the mantissa
        exponent = 113;
        while ((mantissa & 0x400) == 0) { mantissa <<= 1; exponent--; }
        bits = sign | (exponent << 23) | ((mantissa & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void dequantize_block(LFQuantFormat format, const uint8_t *block, float *out) {
    float d = half_to_float(load_u16(block));
    switch (format) {
    case LFQuantQ4_0:
        for (int j = 0; j < 16; j++) {
            out[j] = (float)((block[2 + j] & 0xF) - 8) * d;
            out[j + 16] = (float)((block[2 + j] >> 4) - 8) * d;
        }
        break;
    case LFQuantQ4_1: {
        float m = half_to_float(load_u16(block + 2));
        for (int j = 0; j < 16; j++) {
            out[j] = (float)(block[4 + j] & 0xF) * d + m;
            out[j + 16] = (float)(block[4 + j] >> 4) * d + m;
        }
        break;
    }
    case LFQuantQ8_0:
        for (int j = 0; j < 32; j++) out[j] = (float)(int8_t)block[2 + j] * d;
        break;
    }
}

static void dequantize_rows_portable(LFQuantFormat format, const uint8_t *weights, size_t columns,
                                     size_t rowStart, size_t rowEnd, float *out) {
    size_t blockBytes = lf_quant_block_bytes(format), blocksPerRow = columns / BLOCK;
    for (size_t r = rowStart; r < rowEnd; r++) {
        const uint8_t *row = weights + r * blocksPerRow * blockBytes;
        for (size_t b = 0; b < blocksPerRow; b++) {
            dequantize_block(format, row + b * blockBytes, out + (r - rowStart) * columns + b * BLOCK);
        }
    }
}

static void matmul_portable(LFQuantFormat format, const uint8_t *weights, size_t columns,
                            size_t rowStart, size_t rowEnd, const float *x, size_t xRows, size_t ldx,
                            float *y, size_t ldy) {
    float *w = malloc(columns * sizeof(float));
    if (!w) abort();
    for (size_t r = rowStart; r < rowEnd; r++) {
        dequantize_rows_portable(format, weights, columns, r, r + 1, w);
        for (size_t i = 0; i < xRows; i++) {
            const float *xi = x + i * ldx;
            float sum = 0;
            for (size_t k = 0; k < columns; k++) sum += w[k] * xi[k];
            y[i * ldy + r] = sum;
        }
    }
    free(w);
}

// ---------------------------------------------------------------------------------------------
// AVX2 path

#if HAVE_X86_KERNELS

TARGET_AVX2 static inline float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// The low 8 bytes of `bytes` as 8 floats (unsigned or signed bytes).
TARGET_AVX2 static inline __m256 u8_to_float(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)); }
TARGET_AVX2 static inline __m256 i8_to_float(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)); }

/// The 32 raw integers q of one block as four vectors of 8 (before scale and offset).
TARGET_AVX2 static inline __attribute__((always_inline)) void block_integers(LFQuantFormat format, const uint8_t *block, __m256 q[4]) {
    if (format == LFQuantQ8_0) {
        __m128i lo = _mm_loadu_si128((const __m128i *)(block + 2));
        __m128i hi = _mm_loadu_si128((const __m128i *)(block + 18));
        q[0] = i8_to_float(lo); q[1] = i8_to_float(_mm_srli_si128(lo, 8));
        q[2] = i8_to_float(hi); q[3] = i8_to_float(_mm_srli_si128(hi, 8));
        return;
    }
    const __m128i packed = _mm_loadu_si128((const __m128i *)(block + (format == LFQuantQ4_1 ? 4 : 2)));
    const __m128i nibble = _mm_set1_epi8(0x0F);
    __m128i lo = _mm_and_si128(packed, nibble), hi = _mm_and_si128(_mm_srli_epi16(packed, 4), nibble);
    q[0] = u8_to_float(lo); q[1] = u8_to_float(_mm_srli_si128(lo, 8));
    q[2] = u8_to_float(hi); q[3] = u8_to_float(_mm_srli_si128(hi, 8));
}

/// The 32 weights of one block as four vectors of 8, each value d·q (+ m) as in dequantize_block.
TARGET_AVX2 static inline void expand_block(LFQuantFormat format, const uint8_t *block, __m256 w[4]) {
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(load_u16(block)));
    __m256 q[4];
    block_integers(format, block, q);
    if (format == LFQuantQ4_1) {
        const __m256 m = _mm256_set1_ps(_cvtsh_ss(load_u16(block + 2)));
        for (int v = 0; v < 4; v++) w[v] = _mm256_add_ps(_mm256_mul_ps(q[v], d), m);
    } else if (format == LFQuantQ4_0) {
        const __m256 eight = _mm256_set1_ps(8);
        for (int v = 0; v < 4; v++) w[v] = _mm256_mul_ps(_mm256_sub_ps(q[v], eight), d);
    } else {
        for (int v = 0; v < 4; v++) w[v] = _mm256_mul_ps(q[v], d);
    }
}

/// Σ q·x over one block, in two independent chains (the FMA latency, not its throughput, would
/// otherwise bound the loop).
TARGET_AVX2 static inline __attribute__((always_inline)) __m256 block_dot(LFQuantFormat format, const uint8_t *block, const float *x) {
    __m256 q[4];
    block_integers(format, block, q);
    __m256 s0 = _mm256_mul_ps(q[0], _mm256_loadu_ps(x)), s1 = _mm256_mul_ps(q[1], _mm256_loadu_ps(x + 8));
    s0 = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(x + 16), s0);
    s1 = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(x + 24), s1);
    return _mm256_add_ps(s0, s1);
}

/// The offset part of one block's Σ (d·q + m)·x: m·Σ x (Q4_0: m = −8d; Q8_0 has none).
TARGET_AVX2 static inline float block_offset(LFQuantFormat format, const uint8_t *block, float blockSum) {
    if (format == LFQuantQ4_1) return _cvtsh_ss(load_u16(block + 2)) * blockSum;
    if (format == LFQuantQ4_0) return -8 * _cvtsh_ss(load_u16(block)) * blockSum;
    return 0;
}

/// One row of W times one x, factored per block: Σ (d·q + m)·x = d·Σ q·x + m·Σ x, so a block
/// costs its integer conversions, four multiply-adds and one scaling; `blockSums` holds Σ x per
/// block. This rounds differently from expanding each weight first, by about an fp32 ulp of the
/// sum. Even and odd blocks accumulate apart, to overlap their latencies. Always inlined with a
/// constant `format`, so the loop has no branch on it.
TARGET_AVX2 static inline __attribute__((always_inline))
float dot_row_avx2(LFQuantFormat format, const uint8_t *row, size_t blocks, const float *x, const float *blockSums) {
    const size_t blockBytes = lf_quant_block_bytes(format);
    __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();
    float offsets = 0;
    size_t b = 0;
    for (; b + 2 <= blocks; b += 2) {
        const uint8_t *first = row + b * blockBytes, *second = first + blockBytes;
        even = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(load_u16(first))), block_dot(format, first, x + b * BLOCK), even);
        odd = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(load_u16(second))), block_dot(format, second, x + b * BLOCK + BLOCK), odd);
        offsets += block_offset(format, first, blockSums[b]) + block_offset(format, second, blockSums[b + 1]);
    }
    if (b < blocks) {
        const uint8_t *last = row + b * blockBytes;
        even = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(load_u16(last))), block_dot(format, last, x + b * BLOCK), even);
        offsets += block_offset(format, last, blockSums[b]);
    }
    return horizontal_sum(_mm256_add_ps(even, odd)) + offsets;
}

/// Rows [rowStart, rowEnd) of W times each x row, one dot product at a time (for few x rows).
TARGET_AVX2 static inline __attribute__((always_inline))
void matmul_rows_avx2(LFQuantFormat format, const uint8_t *weights, size_t columns, size_t rowStart, size_t rowEnd,
                      const float *x, size_t xRows, size_t ldx, const float *blockSums, float *y, size_t ldy) {
    const size_t blocks = columns / BLOCK, rowBytes = blocks * lf_quant_block_bytes(format);
    for (size_t r = rowStart; r < rowEnd; r++) {
        for (size_t i = 0; i < xRows; i++) {
            y[i * ldy + r] = dot_row_avx2(format, weights + r * rowBytes, blocks, x + i * ldx, blockSums + i * blocks);
        }
    }
}

TARGET_AVX2 static void dequantize_rows_avx2(LFQuantFormat format, const uint8_t *weights, size_t columns,
                                             size_t rowStart, size_t rowEnd, float *out) {
    size_t blockBytes = lf_quant_block_bytes(format), blocksPerRow = columns / BLOCK;
    for (size_t r = rowStart; r < rowEnd; r++) {
        const uint8_t *row = weights + r * blocksPerRow * blockBytes;
        float *o = out + (r - rowStart) * columns;
        for (size_t b = 0; b < blocksPerRow; b++) {
            __m256 w[4];
            expand_block(format, row + b * blockBytes, w);
            for (int v = 0; v < 4; v++) _mm256_storeu_ps(o + b * BLOCK + 8 * v, w[v]);
        }
    }
}

/// Rows of W are expanded once into a small fp32 tile (4 rows, in L1) that every x row reuses:
/// with several x rows this costs less than expanding each weight once per x row. The tile meets
/// two x rows at a time, so eight independent sums keep both FMA units busy.
TARGET_AVX2 static void matmul_tiled_avx2(LFQuantFormat format, const uint8_t *weights, size_t columns,
                                          size_t rowStart, size_t rowEnd, const float *x, size_t xRows,
                                          size_t ldx, float *y, size_t ldy) {
    float *tile = aligned_alloc(64, ((4 * columns * sizeof(float)) + 63) / 64 * 64);
    if (!tile) abort();
    for (size_t r = rowStart; r < rowEnd; r += 4) {
        const size_t count = rowEnd - r < 4 ? rowEnd - r : 4;
        dequantize_rows_avx2(format, weights, columns, r, r + count, tile);
        for (size_t j = count; j < 4; j++) memset(tile + j * columns, 0, columns * sizeof(float));
        for (size_t i = 0; i < xRows; i += 2) {
            const float *x0 = x + i * ldx, *x1 = i + 1 < xRows ? x0 + ldx : x0;
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            for (size_t k = 0; k < columns; k += 8) {
                const __m256 v0 = _mm256_loadu_ps(x0 + k), v1 = _mm256_loadu_ps(x1 + k);
                __m256 w = _mm256_load_ps(tile + k);
                a00 = _mm256_fmadd_ps(w, v0, a00); a01 = _mm256_fmadd_ps(w, v1, a01);
                w = _mm256_load_ps(tile + columns + k);
                a10 = _mm256_fmadd_ps(w, v0, a10); a11 = _mm256_fmadd_ps(w, v1, a11);
                w = _mm256_load_ps(tile + 2 * columns + k);
                a20 = _mm256_fmadd_ps(w, v0, a20); a21 = _mm256_fmadd_ps(w, v1, a21);
                w = _mm256_load_ps(tile + 3 * columns + k);
                a30 = _mm256_fmadd_ps(w, v0, a30); a31 = _mm256_fmadd_ps(w, v1, a31);
            }
            const float sums[2][4] = {
                { horizontal_sum(a00), horizontal_sum(a10), horizontal_sum(a20), horizontal_sum(a30) },
                { horizontal_sum(a01), horizontal_sum(a11), horizontal_sum(a21), horizontal_sum(a31) },
            };
            for (size_t row = 0; row < 2 && i + row < xRows; row++) {
                for (size_t j = 0; j < count; j++) y[(i + row) * ldy + r + j] = sums[row][j];
            }
        }
    }
    free(tile);
}

TARGET_AVX2 static void matmul_avx2(LFQuantFormat format, const uint8_t *weights, size_t columns,
                                    size_t rowStart, size_t rowEnd, const float *x, size_t xRows, size_t ldx,
                                    float *y, size_t ldy) {
    if (xRows >= 4 && columns % 8 == 0) {
        matmul_tiled_avx2(format, weights, columns, rowStart, rowEnd, x, xRows, ldx, y, ldy);
        return;
    }
    size_t blocks = columns / BLOCK;
    float *blockSums = malloc(xRows * blocks * sizeof(float));
    if (!blockSums) abort();
    for (size_t i = 0; i < xRows; i++) {
        for (size_t b = 0; b < blocks; b++) {
            float sum = 0;
            for (int j = 0; j < BLOCK; j++) sum += x[i * ldx + b * BLOCK + j];
            blockSums[i * blocks + b] = sum;
        }
    }
    switch (format) {  // one specialised loop per format
    case LFQuantQ4_0: matmul_rows_avx2(LFQuantQ4_0, weights, columns, rowStart, rowEnd, x, xRows, ldx, blockSums, y, ldy); break;
    case LFQuantQ4_1: matmul_rows_avx2(LFQuantQ4_1, weights, columns, rowStart, rowEnd, x, xRows, ldx, blockSums, y, ldy); break;
    case LFQuantQ8_0: matmul_rows_avx2(LFQuantQ8_0, weights, columns, rowStart, rowEnd, x, xRows, ldx, blockSums, y, ldy); break;
    }
    free(blockSums);
}

static int avx2_allowed = 1;

static int avx2_available(void) {
    static int cpu_has_avx2 = -1;  // a benign race: every thread computes the same value
    if (cpu_has_avx2 < 0) {
        __builtin_cpu_init();
        cpu_has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    }
    return cpu_has_avx2 && avx2_allowed;
}
#endif

// ---------------------------------------------------------------------------------------------
// Entry points

int lf_quant_uses_avx2(void) {
#if HAVE_X86_KERNELS
    return avx2_available();
#else
    return 0;
#endif
}

void lf_quant_allow_avx2(int allowed) {
#if HAVE_X86_KERNELS
    avx2_allowed = allowed != 0;
#else
    (void)allowed;
#endif
}

void lf_quant_matmul(LFQuantFormat format, const uint8_t *weights, size_t columns, size_t rowStart, size_t rowEnd,
                     const float *x, size_t xRows, size_t ldx, float *y, size_t ldy) {
#if HAVE_X86_KERNELS
    if (avx2_available()) {
        matmul_avx2(format, weights, columns, rowStart, rowEnd, x, xRows, ldx, y, ldy);
        return;
    }
#endif
    matmul_portable(format, weights, columns, rowStart, rowEnd, x, xRows, ldx, y, ldy);
}

void lf_quant_dequantize(LFQuantFormat format, const uint8_t *weights, size_t columns, size_t rowStart,
                         size_t rowEnd, float *out) {
#if HAVE_X86_KERNELS
    if (avx2_available()) {
        dequantize_rows_avx2(format, weights, columns, rowStart, rowEnd, out);
        return;
    }
#endif
    dequantize_rows_portable(format, weights, columns, rowStart, rowEnd, out);
}
