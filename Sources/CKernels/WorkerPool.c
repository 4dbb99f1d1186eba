// A minimal fork-join pool; see WorkerPool.h.
//
// One job at a time. `ticket` holds the job's generation (high 32 bits) and its next unclaimed
// chunk (low 32 bits); a thread claims a chunk with a compare-and-swap, so it can only ever take
// a chunk of the generation it read the job for. Before the caller rewrites the job it closes the
// ticket (a new generation with chunk CLOSED), which makes every late claim for the old job fail.
// Release/acquire ordering on `ticket` and `finished` makes the job visible to the workers and
// every chunk's writes visible to the caller when lf_pool_run returns.
#include "WorkerPool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

enum { MAX_THREADS = 64 };
static const long SPIN_NANOSECONDS = 200 * 1000;  // how long an idle worker spins before sleeping
static const uint64_t CLOSED = 0xFFFFFFFF;

static pthread_mutex_t runLock = PTHREAD_MUTEX_INITIALIZER;    // one job at a time
static pthread_mutex_t sleepLock = PTHREAD_MUTEX_INITIALIZER;  // guards sleeping on `wake`
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static _Atomic uint64_t ticket = CLOSED;
static _Atomic(LFChunkFunction) jobFunction;
static _Atomic(void *) jobContext;
static atomic_long jobChunks, finished;
static int workerCount;           // workers started (guarded by runLock)
static atomic_int activeWorkers;  // workers that take part in jobs: threads − 1
static _Thread_local int insideJob;

static long nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Runs chunks of the job of `generation` until none is left to claim.
static void work(uint64_t generation) {
    LFChunkFunction function = atomic_load_explicit(&jobFunction, memory_order_relaxed);
    void *context = atomic_load_explicit(&jobContext, memory_order_relaxed);
    uint64_t chunks = (uint64_t)atomic_load_explicit(&jobChunks, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&ticket, memory_order_acquire);
    insideJob = 1;
    while ((t >> 32) == generation && (t & CLOSED) < chunks) {
        if (atomic_compare_exchange_weak_explicit(&ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire)) {
            function(context, (long)(t & CLOSED));
            atomic_fetch_add_explicit(&finished, 1, memory_order_release);
            t = atomic_load_explicit(&ticket, memory_order_acquire);
        }
    }
    insideJob = 0;
}

/// A new open job: a generation other than `seen` whose ticket is not closed.
static int has_new_job(uint64_t t, uint64_t seen) { return (t >> 32) != seen && (t & CLOSED) != CLOSED; }

static void *worker_main(void *argument) {
    const int index = (int)(long)argument;
    uint64_t seen = 0;
    for (;;) {
        long start = nanoseconds();
        uint64_t t;
        for (unsigned spins = 1; !has_new_job(t = atomic_load_explicit(&ticket, memory_order_acquire), seen); spins++) {
            cpu_relax();
            if (spins % 64 == 0 && nanoseconds() - start > SPIN_NANOSECONDS) {  // the clock is read rarely  // idle for a while: sleep until signalled
                pthread_mutex_lock(&sleepLock);
                while (!has_new_job(t = atomic_load_explicit(&ticket, memory_order_acquire), seen)) {
                    pthread_cond_wait(&wake, &sleepLock);
                }
                pthread_mutex_unlock(&sleepLock);
                break;
            }
        }
        seen = t >> 32;
        if (index < atomic_load_explicit(&activeWorkers, memory_order_relaxed)) work(seen);
    }
    return 0;
}

void lf_pool_set_threads(int threads) {
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    pthread_mutex_lock(&runLock);
    while (workerCount < threads - 1) {
        pthread_t thread;
        if (pthread_create(&thread, 0, worker_main, (void *)(long)workerCount) != 0) break;
        pthread_detach(thread);
        workerCount++;
    }
    atomic_store(&activeWorkers, threads - 1 < workerCount ? threads - 1 : workerCount);
    pthread_mutex_unlock(&runLock);
}

void lf_pool_run(long chunks, LFChunkFunction function, void *context) {
    if (chunks <= 0) return;
    if (chunks == 1 || chunks >= (long)CLOSED || insideJob || atomic_load(&activeWorkers) == 0
        || pthread_mutex_trylock(&runLock) != 0) {
        for (long c = 0; c < chunks; c++) function(context, c);
        return;
    }
    // Close the previous job, write this one, then open it under a fresh generation.
    uint64_t generation = (atomic_load(&ticket) >> 32) + 1;
    atomic_store_explicit(&ticket, (generation << 32) | CLOSED, memory_order_seq_cst);
    atomic_store_explicit(&jobFunction, function, memory_order_relaxed);
    atomic_store_explicit(&jobContext, context, memory_order_relaxed);
    atomic_store_explicit(&jobChunks, chunks, memory_order_relaxed);
    atomic_store_explicit(&finished, 0, memory_order_relaxed);
    generation += 1;
    pthread_mutex_lock(&sleepLock);  // a worker going to sleep either sees the job or gets the signal
    atomic_store_explicit(&ticket, generation << 32, memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&sleepLock);

    work(generation);
    while (atomic_load_explicit(&finished, memory_order_acquire) < chunks) cpu_relax();
    pthread_mutex_unlock(&runLock);
}
