import CKernels
import Foundation
#if canImport(Accelerate)
import Accelerate
#else
import COpenBLAS
#endif

/// How many cores the engine uses: for BLAS and for its own kernels.
///
/// Work is split into `threads` contiguous chunks whose boundaries depend only on the problem size
/// and the thread count, and every output element is written by exactly one chunk, so a run is
/// bit-identical for the same seed and thread count.
public enum Parallel {
    public private(set) static var threads: Int = {
        let n = ProcessInfo.processInfo.activeProcessorCount
        lf_pool_set_threads(Int32(n))
        #if !canImport(Accelerate)
        openblas_set_num_threads(1)  // BLAS.gemm splits large products over the engine's threads
        #endif
        // A training step allocates and frees the same large activations every step (the logits
        // alone are tens to hundreds of MB). glibc maps blocks above its threshold (at most 32 MB)
        // afresh each time, and the kernel zeroes every page on first touch: 10–30 % of a step.
        // Blocks up to 100 MB now come from the heap and are reused. Larger ones (SmolLM2's 113 MB
        // embedding gradient, its 200 MB logits) stay mapped: kept in the heap they raised the
        // peak memory by 5 % and saved no time.
        lf_keep_blocks_in_heap(100 << 20)
        return n
    }()

    /// Sets the number of threads for BLAS and the engine's kernels.
    public static func setThreads(_ n: Int) {
        threads = max(1, n)
        lf_pool_set_threads(Int32(threads))
    }

    /// Calls `body` on disjoint sub-ranges covering `0..<count`, in parallel when there is enough
    /// work (`count * costPerItem` above ~32k element operations).
    public static func forRanges(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(threads, count, max(1, count * costPerItem / 32_768))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        // The engine's worker threads (WorkerPool.c) rather than Dispatch: they spin briefly
        // between kernels, so the hundreds of small kernels of a decoding step do not each pay
        // for waking a sleeping thread.
        withoutActuallyEscaping(body) { body in
            var job = ChunkedJob(count: count, chunks: chunks, body: body)
            withUnsafeMutablePointer(to: &job) { pointer in
                lf_pool_run(chunks, { context, chunk in
                    let job = context!.assumingMemoryBound(to: ChunkedJob.self).pointee
                    let chunk = Int(chunk)
                    job.body((job.count * chunk / job.chunks)..<(job.count * (chunk + 1) / job.chunks))
                }, pointer)
            }
        }
    }

    private struct ChunkedJob {
        let count: Int, chunks: Int
        let body: (Range<Int>) -> Void
    }

    /// Calls `body(i)` for each `i` in `0..<count`, spread over the threads.
    public static func forEach(_ count: Int, costPerItem: Int = 1, _ body: (Int) -> Void) {
        forRanges(count, costPerItem: costPerItem) { range in
            for i in range { body(i) }
        }
    }
}
