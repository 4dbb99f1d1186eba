// RMSNorm, one block per row: y = x · r · w with r = 1 / √(mean(x²) + ε).
#include "common.cuh"

// Also writes r of each row, for the backward pass.
KERNEL rmsnorm_forward(float *y, float *rstd, const float *x, const float *weight, int cols, float eps) {
    __shared__ float scratch[32];
    const float *xr = x + (long)blockIdx.x * cols;
    float *yr = y + (long)blockIdx.x * cols;
    float ss = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) ss += xr[j] * xr[j];
    float r = rsqrtf(block_sum(ss, scratch) / cols + eps);
    if (threadIdx.x == 0) rstd[blockIdx.x] = r;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = xr[j] * r * weight[j];
}

// With g = dy · w:  dx = r · g − x · r³ · mean(g · x),  dw += dy · x · r (atomics across rows).
KERNEL rmsnorm_backward(float *dx, float *dweight, const float *dy, const float *x, const float *weight,
                        const float *rstd, int cols) {
    __shared__ float scratch[32];
    long offset = (long)blockIdx.x * cols;
    float r = rstd[blockIdx.x], dot = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) dot += dy[offset + j] * weight[j] * x[offset + j];
    float meanDot = block_sum(dot, scratch) / cols;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float xj = x[offset + j], g = dy[offset + j] * weight[j];
        dx[offset + j] = r * g - xj * r * r * r * meanDot;
        atomicAdd(&dweight[j], dy[offset + j] * xj * r);
    }
}
