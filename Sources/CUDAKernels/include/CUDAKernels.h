// The CUDA kernels (Sources/LifelongCUDA/Kernels/*.cu) run on the CPU under the emulation (emulation.h), for the tests
// that compare them with the engine's CPU ops. Each function launches one kernel on a grid of
// `blocks` blocks of `threads` threads (1-dimensional) and returns 0, or −1 with the reason in
// lf_emulation_message().
#ifndef LIFELONG_CUDA_KERNELS_H
#define LIFELONG_CUDA_KERNELS_H

const char *lf_emulation_message(void);

int lf_emulate_fill(int blocks, int threads, float *x, float value, int n);
int lf_emulate_scale(int blocks, int threads, float *x, float factor, int n);
int lf_emulate_add(int blocks, int threads, float *out, const float *a, const float *b, int n);
int lf_emulate_accumulate(int blocks, int threads, float *into, const float *x, int n);
int lf_emulate_sum_squares(int blocks, int threads, float *total, const float *x, int n);
int lf_emulate_embedding_forward(int blocks, int threads, float *out, const float *table, const int *ids, int tokens, int dim);
int lf_emulate_embedding_backward(int blocks, int threads, float *dtable, const float *dout, const int *ids, int tokens, int dim);
int lf_emulate_rmsnorm_forward(int blocks, int threads, float *y, float *rstd, const float *x, const float *weight, int cols, float eps);
int lf_emulate_rmsnorm_backward(int blocks, int threads, float *dx, float *dweight, const float *dy, const float *x,
                                const float *weight, const float *rstd, int cols);
int lf_emulate_swiglu_forward(int blocks, int threads, float *out, const float *gate, const float *up, int n);
int lf_emulate_swiglu_backward(int blocks, int threads, float *dgate, float *dup, const float *dout, const float *gate,
                               const float *up, int n);
int lf_emulate_rope(int blocks, int threads, float *y, const float *x, const int *positions, int tokens, int heads,
                    int headDim, float base, float direction);
int lf_emulate_softmax_cross_entropy(int blocks, int threads, float *losses, float *dlogits, const float *logits,
                                     const int *targets, int vocab, float gradScale);
int lf_emulate_adamw(int blocks, int threads, float *w, const float *g, float *m, float *v, int n, float decay,
                     float beta1, float beta2, float stepSize, float correction2Sqrt, float epsilon);
int lf_emulate_masked_softmax_forward(int blocks, int threads, float *p, const float *scores, const unsigned char *keyMask,
                                      int T, int heads, float scale);
int lf_emulate_masked_softmax_backward(int blocks, int threads, float *dscores, const float *p, const float *dp, int T,
                                       float scale);
#endif
