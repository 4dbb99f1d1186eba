// Cross-entropy of logits against targets fused with the softmax and its gradient, one block per
// row, so the [rows, vocab] probabilities are never stored apart from the gradient.
#include "common.cuh"

// losses[row] = logsumexp(logits[row]) − logits[row, target];  dlogits[row] = (softmax − onehot) ·
// gradScale (1 / the number of counted rows, for a mean). A negative target counts for nothing.
KERNEL softmax_cross_entropy(float *losses, float *dlogits, const float *logits, const int *targets, int vocab,
                             float gradScale) {
    __shared__ float scratch[32];
    long offset = (long)blockIdx.x * vocab;
    int target = targets[blockIdx.x];
    if (target < 0) {  // the same branch for the whole block
        for (int j = threadIdx.x; j < vocab; j += blockDim.x) dlogits[offset + j] = 0.0f;
        if (threadIdx.x == 0) losses[blockIdx.x] = 0.0f;
        return;
    }
    float m = NEGATIVE_INFINITY;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x) m = fmaxf(m, logits[offset + j]);
    m = block_max(m, scratch);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x) sum += expf(logits[offset + j] - m);
    float logSum = m + logf(block_sum(sum, scratch));
    for (int j = threadIdx.x; j < vocab; j += blockDim.x) {
        float p = expf(logits[offset + j] - logSum);
        dlogits[offset + j] = (p - (j == target ? 1.0f : 0.0f)) * gradScale;
    }
    if (threadIdx.x == 0) losses[blockIdx.x] = logSum - logits[offset + target];
}
