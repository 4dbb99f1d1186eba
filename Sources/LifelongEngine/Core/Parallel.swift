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
    public private(set) static var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Sets the number of threads for BLAS and the engine's kernels.
    public static func setThreads(_ n: Int) {
        threads = max(1, n)
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(threads))
        #endif
    }

    /// Calls `body` on disjoint sub-ranges covering `0..<count`, in parallel when there is enough
    /// work (`count * costPerItem` above ~32k element operations).
    public static func forRanges(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(threads, count, max(1, count * costPerItem / 32_768))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks, end = count * (chunk + 1) / chunks
            body(start..<end)
        }
    }

    /// Calls `body(i)` for each `i` in `0..<count`, spread over the threads.
    public static func forEach(_ count: Int, costPerItem: Int = 1, _ body: (Int) -> Void) {
        forRanges(count, costPerItem: costPerItem) { range in
            for i in range { body(i) }
        }
    }
}
