// Fill, scale, add and accumulate over flat buffers (any grid; grid-stride loops).
#include "common.cuh"

KERNEL fill(float *x, float value, int n) {
    for (int i = GRID_INDEX; i < n; i += GRID_STRIDE) x[i] = value;
}

KERNEL scale(float *x, float factor, int n) {
    for (int i = GRID_INDEX; i < n; i += GRID_STRIDE) x[i] *= factor;
}

// out = a + b (the residual add).
KERNEL add(float *out, const float *a, const float *b, int n) {
    for (int i = GRID_INDEX; i < n; i += GRID_STRIDE) out[i] = a[i] + b[i];
}

// into += x (a gradient reaching a tensor from a second consumer).
KERNEL accumulate(float *into, const float *x, int n) {
    for (int i = GRID_INDEX; i < n; i += GRID_STRIDE) into[i] += x[i];
}

// total += Σ x² (for the gradient norm: one call per parameter buffer, then √total on the host).
// The order of the block partials' atomic adds varies from run to run, so the last bits may too.
KERNEL sum_squares(float *total, const float *x, int n) {
    __shared__ float scratch[32];
    float s = 0.0f;
    for (int i = GRID_INDEX; i < n; i += GRID_STRIDE) s += x[i] * x[i];
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) atomicAdd(total, s);
}
