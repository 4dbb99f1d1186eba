// Each kernel of Sources/LifelongCUDA/Kernels/*.cu compiled for the CPU, and a launcher that packs its arguments for the
// fiber scheduler (Emulation.c). The kernels are included as they are: the same text NVRTC compiles.
#include "emulation.h"
#include "CUDAKernels.h"

#include "../LifelongCUDA/Kernels/elementwise.cu"
#include "../LifelongCUDA/Kernels/embedding.cu"
#include "../LifelongCUDA/Kernels/rmsnorm.cu"
#include "../LifelongCUDA/Kernels/swiglu.cu"
#include "../LifelongCUDA/Kernels/rope.cu"
#include "../LifelongCUDA/Kernels/softmax_cross_entropy.cu"
#include "../LifelongCUDA/Kernels/adamw.cu"
#include "../LifelongCUDA/Kernels/masked_softmax.cu"

const char *lf_emulation_message(void) { return lf_emulation_error; }

static dim3 line(int n) { return (dim3){(unsigned)n, 1, 1}; }

// One launcher per kernel: its arguments in a struct, and a body that calls the kernel with them.

typedef struct { float *x; float value; int n; } fill_arguments;
static void fill_body(void *p) {
    fill_arguments *a = p;
    fill(a->x, a->value, a->n);
}
int lf_emulate_fill(int blocks, int threads, float *x, float value, int n) {
    fill_arguments arguments = {x, value, n};
    return lf_emulate(line(blocks), line(threads), fill_body, &arguments);
}

typedef struct { float *x; float factor; int n; } scale_arguments;
static void scale_body(void *p) {
    scale_arguments *a = p;
    scale(a->x, a->factor, a->n);
}
int lf_emulate_scale(int blocks, int threads, float *x, float factor, int n) {
    scale_arguments arguments = {x, factor, n};
    return lf_emulate(line(blocks), line(threads), scale_body, &arguments);
}

typedef struct { float *out; const float *a; const float *b; int n; } add_arguments;
static void add_body(void *p) {
    add_arguments *a = p;
    add(a->out, a->a, a->b, a->n);
}
int lf_emulate_add(int blocks, int threads, float *out, const float *a, const float *b, int n) {
    add_arguments arguments = {out, a, b, n};
    return lf_emulate(line(blocks), line(threads), add_body, &arguments);
}

typedef struct { float *into; const float *x; int n; } accumulate_arguments;
static void accumulate_body(void *p) {
    accumulate_arguments *a = p;
    accumulate(a->into, a->x, a->n);
}
int lf_emulate_accumulate(int blocks, int threads, float *into, const float *x, int n) {
    accumulate_arguments arguments = {into, x, n};
    return lf_emulate(line(blocks), line(threads), accumulate_body, &arguments);
}

typedef struct { float *total; const float *x; int n; } sum_squares_arguments;
static void sum_squares_body(void *p) {
    sum_squares_arguments *a = p;
    sum_squares(a->total, a->x, a->n);
}
int lf_emulate_sum_squares(int blocks, int threads, float *total, const float *x, int n) {
    sum_squares_arguments arguments = {total, x, n};
    return lf_emulate(line(blocks), line(threads), sum_squares_body, &arguments);
}

typedef struct { float *out; const float *table; const int *ids; int tokens; int dim; } embedding_forward_arguments;
static void embedding_forward_body(void *p) {
    embedding_forward_arguments *a = p;
    embedding_forward(a->out, a->table, a->ids, a->tokens, a->dim);
}
int lf_emulate_embedding_forward(int blocks, int threads, float *out, const float *table, const int *ids, int tokens, int dim) {
    embedding_forward_arguments arguments = {out, table, ids, tokens, dim};
    return lf_emulate(line(blocks), line(threads), embedding_forward_body, &arguments);
}

typedef struct { float *dtable; const float *dout; const int *ids; int tokens; int dim; } embedding_backward_arguments;
static void embedding_backward_body(void *p) {
    embedding_backward_arguments *a = p;
    embedding_backward(a->dtable, a->dout, a->ids, a->tokens, a->dim);
}
int lf_emulate_embedding_backward(int blocks, int threads, float *dtable, const float *dout, const int *ids, int tokens, int dim) {
    embedding_backward_arguments arguments = {dtable, dout, ids, tokens, dim};
    return lf_emulate(line(blocks), line(threads), embedding_backward_body, &arguments);
}

typedef struct { float *y; float *rstd; const float *x; const float *weight; int cols; float eps; } rmsnorm_forward_arguments;
static void rmsnorm_forward_body(void *p) {
    rmsnorm_forward_arguments *a = p;
    rmsnorm_forward(a->y, a->rstd, a->x, a->weight, a->cols, a->eps);
}
int lf_emulate_rmsnorm_forward(int blocks, int threads, float *y, float *rstd, const float *x, const float *weight, int cols, float eps) {
    rmsnorm_forward_arguments arguments = {y, rstd, x, weight, cols, eps};
    return lf_emulate(line(blocks), line(threads), rmsnorm_forward_body, &arguments);
}

typedef struct { float *dx; float *dweight; const float *dy; const float *x; const float *weight; const float *rstd; int cols; } rmsnorm_backward_arguments;
static void rmsnorm_backward_body(void *p) {
    rmsnorm_backward_arguments *a = p;
    rmsnorm_backward(a->dx, a->dweight, a->dy, a->x, a->weight, a->rstd, a->cols);
}
int lf_emulate_rmsnorm_backward(int blocks, int threads, float *dx, float *dweight, const float *dy, const float *x, const float *weight, const float *rstd, int cols) {
    rmsnorm_backward_arguments arguments = {dx, dweight, dy, x, weight, rstd, cols};
    return lf_emulate(line(blocks), line(threads), rmsnorm_backward_body, &arguments);
}

typedef struct { float *out; const float *gate; const float *up; int n; } swiglu_forward_arguments;
static void swiglu_forward_body(void *p) {
    swiglu_forward_arguments *a = p;
    swiglu_forward(a->out, a->gate, a->up, a->n);
}
int lf_emulate_swiglu_forward(int blocks, int threads, float *out, const float *gate, const float *up, int n) {
    swiglu_forward_arguments arguments = {out, gate, up, n};
    return lf_emulate(line(blocks), line(threads), swiglu_forward_body, &arguments);
}

typedef struct { float *dgate; float *dup; const float *dout; const float *gate; const float *up; int n; } swiglu_backward_arguments;
static void swiglu_backward_body(void *p) {
    swiglu_backward_arguments *a = p;
    swiglu_backward(a->dgate, a->dup, a->dout, a->gate, a->up, a->n);
}
int lf_emulate_swiglu_backward(int blocks, int threads, float *dgate, float *dup, const float *dout, const float *gate, const float *up, int n) {
    swiglu_backward_arguments arguments = {dgate, dup, dout, gate, up, n};
    return lf_emulate(line(blocks), line(threads), swiglu_backward_body, &arguments);
}

typedef struct { float *y; const float *x; const int *positions; int tokens; int heads; int headDim; float base; float direction; } rope_arguments;
static void rope_body(void *p) {
    rope_arguments *a = p;
    rope(a->y, a->x, a->positions, a->tokens, a->heads, a->headDim, a->base, a->direction);
}
int lf_emulate_rope(int blocks, int threads, float *y, const float *x, const int *positions, int tokens, int heads, int headDim, float base, float direction) {
    rope_arguments arguments = {y, x, positions, tokens, heads, headDim, base, direction};
    return lf_emulate(line(blocks), line(threads), rope_body, &arguments);
}

typedef struct { float *losses; float *dlogits; const float *logits; const int *targets; int vocab; float gradScale; } softmax_cross_entropy_arguments;
static void softmax_cross_entropy_body(void *p) {
    softmax_cross_entropy_arguments *a = p;
    softmax_cross_entropy(a->losses, a->dlogits, a->logits, a->targets, a->vocab, a->gradScale);
}
int lf_emulate_softmax_cross_entropy(int blocks, int threads, float *losses, float *dlogits, const float *logits, const int *targets, int vocab, float gradScale) {
    softmax_cross_entropy_arguments arguments = {losses, dlogits, logits, targets, vocab, gradScale};
    return lf_emulate(line(blocks), line(threads), softmax_cross_entropy_body, &arguments);
}

typedef struct { float *w; const float *g; float *m; float *v; int n; float decay; float beta1; float beta2; float stepSize; float correction2Sqrt; float epsilon; } adamw_arguments;
static void adamw_body(void *p) {
    adamw_arguments *a = p;
    adamw(a->w, a->g, a->m, a->v, a->n, a->decay, a->beta1, a->beta2, a->stepSize, a->correction2Sqrt, a->epsilon);
}
int lf_emulate_adamw(int blocks, int threads, float *w, const float *g, float *m, float *v, int n, float decay, float beta1, float beta2, float stepSize, float correction2Sqrt, float epsilon) {
    adamw_arguments arguments = {w, g, m, v, n, decay, beta1, beta2, stepSize, correction2Sqrt, epsilon};
    return lf_emulate(line(blocks), line(threads), adamw_body, &arguments);
}

typedef struct { float *p; const float *scores; const unsigned char *keyMask; int T; int heads; float scale; } masked_softmax_forward_arguments;
static void masked_softmax_forward_body(void *p) {
    masked_softmax_forward_arguments *a = p;
    masked_softmax_forward(a->p, a->scores, a->keyMask, a->T, a->heads, a->scale);
}
int lf_emulate_masked_softmax_forward(int blocks, int threads, float *p, const float *scores, const unsigned char *keyMask, int T, int heads, float scale) {
    masked_softmax_forward_arguments arguments = {p, scores, keyMask, T, heads, scale};
    return lf_emulate(line(blocks), line(threads), masked_softmax_forward_body, &arguments);
}

typedef struct { float *dscores; const float *p; const float *dp; int T; float scale; } masked_softmax_backward_arguments;
static void masked_softmax_backward_body(void *p) {
    masked_softmax_backward_arguments *a = p;
    masked_softmax_backward(a->dscores, a->p, a->dp, a->T, a->scale);
}
int lf_emulate_masked_softmax_backward(int blocks, int threads, float *dscores, const float *p, const float *dp, int T, float scale) {
    masked_softmax_backward_arguments arguments = {dscores, p, dp, T, scale};
    return lf_emulate(line(blocks), line(threads), masked_softmax_backward_body, &arguments);
}
