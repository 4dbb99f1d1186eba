// Rotary position embedding in the "rotate half" layout (Hugging Face Llama): within each head of
// width D, element i < D/2 and element i + D/2 turn by the angle pos · base^(−2i/D).
#include "common.cuh"

// x and y are [tokens, heads · D]; one thread per (token, head, i < D/2). direction 1 rotates
// (forward), −1 rotates back (the backward pass: the transpose of a rotation is its inverse).
KERNEL rope(float *y, const float *x, const int *positions, int tokens, int heads, int headDim, float base,
            float direction) {
    int half = headDim / 2;
    for (int k = GRID_INDEX; k < tokens * heads * half; k += GRID_STRIDE) {
        int i = k % half, head = (k / half) % heads, t = k / (half * heads);
        float inverseFrequency = 1.0f / powf(base, (float)(2 * i) / (float)headDim);
        float angle = (float)positions[t] * inverseFrequency;
        float c = cosf(angle), s = sinf(angle) * direction;
        long at = (long)t * heads * headDim + (long)head * headDim + i;
        float a = x[at], b = x[at + half];
        y[at] = a * c - b * s;
        y[at + half] = b * c + a * s;
    }
}
