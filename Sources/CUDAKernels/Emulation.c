// The fiber scheduler behind emulation.h. See there for what it emulates and what it refuses.
#define _GNU_SOURCE
#include "emulation.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <ucontext.h>

dim3 threadIdx, blockIdx, blockDim, gridDim;
char lf_emulation_error[256];

enum { runnable, atBarrier, finished };
enum { maxThreads = 1024, stackBytes = 64 * 1024 };

typedef struct { ucontext_t context; int state; dim3 thread; } Fiber;

static ucontext_t scheduler;
static Fiber fibers[maxThreads];
static char *stacks;
static int current;
static void (*kernelBody)(void *);
static void *kernelArguments;
static float exchange[maxThreads];  // the values of a warp shuffle

static void fiberMain(void) {
    kernelBody(kernelArguments);
    fibers[current].state = finished;
    swapcontext(&fibers[current].context, &scheduler);
}

void __syncthreads(void) {
    fibers[current].state = atBarrier;
    swapcontext(&fibers[current].context, &scheduler);
}

// Lane l reads lane l ^ laneMask of its warp (its own value where that lane is past the block).
float __shfl_xor_sync(unsigned mask, float value, int laneMask) {
    (void)mask;
    int self = current, source = (self & ~31) | ((self & 31) ^ laneMask);
    int threads = (int)(blockDim.x * blockDim.y * blockDim.z);
    exchange[self] = value;
    __syncthreads();
    float received = source < threads ? exchange[source] : value;
    __syncthreads();  // nobody overwrites exchange before everyone has read
    return received;
}

// Runs one block: every fiber until the next barrier, round after round.
static int runBlock(int threads) {
    for (int i = 0; i < threads; i++) {
        Fiber *f = &fibers[i];
        getcontext(&f->context);
        f->context.uc_stack.ss_sp = stacks + (long)i * stackBytes;
        f->context.uc_stack.ss_size = stackBytes;
        f->context.uc_link = NULL;
        makecontext(&f->context, fiberMain, 0);
        f->state = runnable;
    }
    for (;;) {
        int waiting = 0, done = 0;
        for (int i = 0; i < threads; i++) {
            if (fibers[i].state == finished) { done++; continue; }
            current = i;
            threadIdx = fibers[i].thread;
            fibers[i].state = runnable;
            swapcontext(&scheduler, &fibers[i].context);
            if (fibers[i].state == finished) done++; else waiting++;
        }
        if (done == threads) return 0;
        if (done > 0) {
            snprintf(lf_emulation_error, sizeof lf_emulation_error,
                     "block (%u, %u, %u): %d threads ended while %d wait at a barrier (a barrier inside a divergent branch)",
                     blockIdx.x, blockIdx.y, blockIdx.z, done, waiting);
            return -1;
        }
    }
}

// One emulated launch at a time (the scheduler's state is global): callers on other threads wait.
static pthread_mutex_t launchLock = PTHREAD_MUTEX_INITIALIZER;
static int emulateLocked(dim3 grid, dim3 block, void (*body)(void *), void *arguments);

int lf_emulate(dim3 grid, dim3 block, void (*body)(void *), void *arguments) {
    pthread_mutex_lock(&launchLock);
    int status = emulateLocked(grid, block, body, arguments);
    pthread_mutex_unlock(&launchLock);
    return status;
}

static int emulateLocked(dim3 grid, dim3 block, void (*body)(void *), void *arguments) {
    int threads = (int)(block.x * block.y * block.z);
    if (threads < 1 || threads > maxThreads) {
        snprintf(lf_emulation_error, sizeof lf_emulation_error, "%d threads per block (1…%d)", threads, maxThreads);
        return -1;
    }
    if (!stacks && !(stacks = malloc((size_t)maxThreads * stackBytes))) {
        snprintf(lf_emulation_error, sizeof lf_emulation_error, "no memory for the fibers' stacks");
        return -1;
    }
    for (int i = 0; i < threads; i++) {
        fibers[i].thread = (dim3){(unsigned)i % block.x, ((unsigned)i / block.x) % block.y, (unsigned)i / (block.x * block.y)};
    }
    kernelBody = body; kernelArguments = arguments; gridDim = grid; blockDim = block;
    for (unsigned z = 0; z < grid.z; z++) {
        for (unsigned y = 0; y < grid.y; y++) {
            for (unsigned x = 0; x < grid.x; x++) {
                blockIdx = (dim3){x, y, z};
                if (runBlock(threads) != 0) return -1;
            }
        }
    }
    return 0;
}
