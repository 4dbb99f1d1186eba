// The softmax of attention scores over the keys a query may see, one block per (sequence, head,
// query) row: key j is visible to query i when j ≤ i (causal) and the key is a real token
// (keyMask[b, j] = 1; no mask: all are). Invisible keys get probability 0; a row with no visible
// key (a padded query in front of its sequence) is all zeros, as in the CPU engine.
#include "common.cuh"

// p[row, :] = softmax(scale · scores[row, :]) over the visible keys; rows = batch · heads · T.
KERNEL masked_softmax_forward(float *p, const float *scores, const unsigned char *keyMask, int T, int heads,
                              float scale) {
    __shared__ float scratch[32];
    long offset = (long)blockIdx.x * T;
    int query = blockIdx.x % T, batch = blockIdx.x / T / heads;
    float m = NEGATIVE_INFINITY;
    for (int j = threadIdx.x; j <= query; j += blockDim.x)
        if (!keyMask || keyMask[batch * T + j]) m = fmaxf(m, scale * scores[offset + j]);
    m = block_max(m, scratch);
    float sum = 0.0f;
    for (int j = threadIdx.x; j <= query; j += blockDim.x)
        if (!keyMask || keyMask[batch * T + j]) sum += expf(scale * scores[offset + j] - m);
    sum = block_sum(sum, scratch);
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        int visible = j <= query && (!keyMask || keyMask[batch * T + j]);
        p[offset + j] = visible && sum > 0.0f ? expf(scale * scores[offset + j] - m) / sum : 0.0f;
    }
}

// dscores = scale · p ⊙ (dp − Σ p ⊙ dp): invisible keys (p = 0) get no gradient.
KERNEL masked_softmax_backward(float *dscores, const float *p, const float *dp, int T, float scale) {
    __shared__ float scratch[32];
    long offset = (long)blockIdx.x * T;
    float dot = 0.0f;
    for (int j = threadIdx.x; j < T; j += blockDim.x) dot += p[offset + j] * dp[offset + j];
    dot = block_sum(dot, scratch);
    for (int j = threadIdx.x; j < T; j += blockDim.x) dscores[offset + j] = scale * p[offset + j] * (dp[offset + j] - dot);
}
