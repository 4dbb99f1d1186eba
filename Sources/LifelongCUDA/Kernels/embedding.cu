// Token embedding: rows of a table gathered by id, and the gradient scattered back.
#include "common.cuh"

// out[t, :] = table[ids[t], :] for t < tokens.
KERNEL embedding_forward(float *out, const float *table, const int *ids, int tokens, int dim) {
    for (int i = GRID_INDEX; i < tokens * dim; i += GRID_STRIDE) {
        int t = i / dim, j = i % dim;
        out[i] = table[(long)ids[t] * dim + j];
    }
}

// dtable[ids[t], :] += dout[t, :]. A repeated id adds from several threads: atomics (so the order
// of the additions, and the last bits of the sum, vary between runs).
KERNEL embedding_backward(float *dtable, const float *dout, const int *ids, int tokens, int dim) {
    for (int i = GRID_INDEX; i < tokens * dim; i += GRID_STRIDE) {
        int t = i / dim, j = i % dim;
        atomicAdd(&dtable[(long)ids[t] * dim + j], dout[i]);
    }
}
