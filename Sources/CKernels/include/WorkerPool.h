// Worker threads for the engine's own kernels.
//
// A kernel split into chunks runs chunk by chunk on the calling thread and on `threads − 1`
// workers. Between jobs a worker spins for a short while before it sleeps, because decoding calls
// hundreds of small kernels per token and waking a sleeping thread costs more than most of them.
#ifndef LIFELONG_WORKER_POOL_H
#define LIFELONG_WORKER_POOL_H

typedef void (*LFChunkFunction)(void *context, long chunk);

/// Uses `threads` threads in all (the caller included) from now on; 1 means no workers.
void lf_pool_set_threads(int threads);

/// Calls `function(context, c)` once for every c in [0, chunks), spread over the threads, and
/// returns when all calls have returned. A call made while the pool is busy (from a chunk, or from
/// another thread) runs its chunks on the calling thread instead, in order.
void lf_pool_run(long chunks, LFChunkFunction function, void *context);

#endif
