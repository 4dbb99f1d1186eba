// The CUDA names the kernels use, for running them on the CPU (tests, CI): each GPU thread of a
// block is a fiber (ucontext) with its own stack, run until it reaches a barrier (__syncthreads or
// a warp shuffle) or its end; when every thread of the block is at the barrier they all go on.
// Blocks run one after another, so a kernel's `static` (shared) arrays are its block's shared
// memory, and atomics are plain additions. What this cannot run — a barrier some threads of a block
// skip — is reported as an error, as it is undefined behaviour on a GPU.
#ifndef LIFELONG_CUDA_EMULATION_H
#define LIFELONG_CUDA_EMULATION_H
#include <math.h>

typedef struct { unsigned x, y, z; } dim3;
extern dim3 threadIdx, blockIdx, blockDim, gridDim;

#define KERNEL static void
#define DEVICE static inline
#define __shared__ static
#define __restrict__ restrict
#define NEGATIVE_INFINITY (-INFINITY)

void __syncthreads(void);
float __shfl_xor_sync(unsigned mask, float value, int laneMask);
static inline float atomicAdd(float *address, float value) { float old = *address; *address = old + value; return old; }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

/// Runs `body(arguments)` as a grid of blocks of threads; 0, or −1 when the threads of a block
/// did not reach the same barriers (the message is in `lf_emulation_error`).
int lf_emulate(dim3 grid, dim3 block, void (*body)(void *), void *arguments);
extern char lf_emulation_error[256];
#endif
