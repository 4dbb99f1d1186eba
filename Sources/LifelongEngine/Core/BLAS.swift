#if canImport(Accelerate)
import Accelerate
#else
import COpenBLAS
#endif

/// Single-precision matrix product through the platform BLAS (OpenBLAS or Accelerate).
///
/// Computes `C = alpha · op(A) · op(B) + beta · C` on row-major matrices, where op(X) is X or Xᵀ.
/// `m × k` is the shape of op(A), `k × n` of op(B); `lda`, `ldb`, `ldc` are row strides, which lets
/// callers address one head inside a [tokens, heads·dim] matrix without copying it.
public enum BLAS {
    public static var name: String {
        #if canImport(Accelerate)
        "Accelerate"
        #else
        "OpenBLAS"
        #endif
    }

    @inline(__always)
    public static func gemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {  // BLAS leaves C untouched when k == 0 only if beta == 1; make it explicit.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
            return
        }
        // Large products are split over the engine's threads, each calling single-threaded BLAS
        // on its own rows (or columns) of C: one set of threads for BLAS and for our kernels,
        // instead of BLAS's threads spinning while ours run and the other way round.
        if Parallel.threads > 1 && m * n * k >= 1 << 18 && max(m, n) >= 2 * Parallel.threads {
            if m >= n {  // rows i of C use rows i of op(A)
                Parallel.forRanges(m, costPerItem: n * k) { rows in
                    gemmOnOneThread(transA: transA, transB: transB, m: rows.count, n: n, k: k, alpha: alpha,
                                    a: a + rows.lowerBound * (transA ? 1 : lda), lda: lda, b: b, ldb: ldb,
                                    beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
                }
            } else {     // columns j of C use columns j of op(B)
                Parallel.forRanges(n, costPerItem: m * k) { columns in
                    gemmOnOneThread(transA: transA, transB: transB, m: m, n: columns.count, k: k, alpha: alpha,
                                    a: a, lda: lda, b: b + columns.lowerBound * (transB ? ldb : 1), ldb: ldb,
                                    beta: beta, c: c + columns.lowerBound, ldc: ldc)
                }
            }
            return
        }
        gemmOnOneThread(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                        beta: beta, c: c, ldc: ldc)
    }

    @inline(__always)
    static func gemmOnOneThread(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 1 {
            // One row (decoding a single sequence): a matrix-vector product, which BLAS streams
            // through the weights instead of packing them as sgemm does.
            let incX = Int32(transA ? lda : 1)
            if transB {  // op(B) = Bᵀ with B [n, k]: c = B · a
                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb), a, incX, beta, c, 1)
            } else {     // B [k, n]: c = Bᵀ · a
                cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb), a, incX, beta, c, 1)
            }
            return
        }
        cblas_sgemm(CblasRowMajor,
                    transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
