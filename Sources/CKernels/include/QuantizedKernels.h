// Matrix products with weights kept in ggml's block-quantised formats (Q4_0, Q4_1, Q8_0).
//
// The weight W is row-major [rows, columns]; each row is columns/32 blocks of 32 values:
//   Q4_0  18 bytes: fp16 scale d, 16 bytes of nibbles          value = d · (q − 8)
//   Q4_1  20 bytes: fp16 scale d, fp16 minimum m, 16 bytes     value = d · q + m
//   Q8_0  34 bytes: fp16 scale d, 32 signed bytes              value = d · q
// In the nibble formats byte j holds value j in its low nibble and value j + 16 in its high one.
//
// The activations x stay fp32 and every weight is expanded to exactly the fp32 value a
// dequantised copy would hold, so a product differs from the fp32 one only by summation order.
// On x86-64 CPUs with AVX2, FMA and F16C the kernels use them (chosen at run time); elsewhere a
// plain C loop does the same arithmetic.
#ifndef LIFELONG_QUANTIZED_KERNELS_H
#define LIFELONG_QUANTIZED_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LFQuantQ4_0 = 0,
    LFQuantQ4_1 = 1,
    LFQuantQ8_0 = 2,
} LFQuantFormat;

/// Bytes of one 32-value block of `format`.
size_t lf_quant_block_bytes(LFQuantFormat format);

/// y[i · ldy + r] = Σ_k W[r, k] · x[i · ldx + k]  for rows r in [rowStart, rowEnd) and i < xRows.
/// `columns` must be a multiple of 32; `weights` points at row 0.
void lf_quant_matmul(LFQuantFormat format, const uint8_t *weights, size_t columns,
                     size_t rowStart, size_t rowEnd,
                     const float *x, size_t xRows, size_t ldx,
                     float *y, size_t ldy);

/// Expands rows [rowStart, rowEnd) of W into fp32, row-major, at `out`.
void lf_quant_dequantize(LFQuantFormat format, const uint8_t *weights, size_t columns,
                         size_t rowStart, size_t rowEnd, float *out);

/// 1 when the AVX2 kernels are in use.
int lf_quant_uses_avx2(void);

/// 0 forces the portable kernels (for tests); 1 uses AVX2 again when the CPU has it.
void lf_quant_allow_avx2(int allowed);

#endif
