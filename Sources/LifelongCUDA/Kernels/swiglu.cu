// SwiGLU, Llama's feed-forward non-linearity: out = silu(gate) · up, silu(g) = g · σ(g).
#include "common.cuh"

KERNEL swiglu_forward(float *out, const float *gate, const float *up, int n) {
    for (int i = GRID_INDEX; i < n; i += GRID_STRIDE) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

// dup = dout · silu(g),  dgate = dout · up · σ(g) · (1 + g · (1 − σ(g))).
KERNEL swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int n) {
    for (int i = GRID_INDEX; i < n; i += GRID_STRIDE) {
        float g = gate[i], s = 1.0f / (1.0f + expf(-g));
        dup[i] = dout[i] * g * s;
        dgate[i] = dout[i] * up[i] * s * (1.0f + g * (1.0f - s));
    }
}
