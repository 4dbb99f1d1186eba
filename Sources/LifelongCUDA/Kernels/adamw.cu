// AdamW over one flat buffer of all parameters (one launch per step), as the CPU engine computes it:
//   w ← w · decay (decay = 1 − lr · weight decay);  m ← m + (g − m)(1 − β₁);  v ← β₂v + (1 − β₂)g²;
//   w ← w − stepSize · m / (√v / √(1 − β₂ᵗ) + ε)   (stepSize = lr / (1 − β₁ᵗ)).
#include "common.cuh"

KERNEL adamw(float *w, const float *g, float *m, float *v, int n, float decay, float beta1, float beta2,
             float stepSize, float correction2Sqrt, float epsilon) {
    for (int i = GRID_INDEX; i < n; i += GRID_STRIDE) {
        float gi = g[i];
        float mi = m[i] + (gi - m[i]) * (1.0f - beta1);
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] * decay - stepSize * mi / (sqrtf(vi) / correction2Sqrt + epsilon);
    }
}
