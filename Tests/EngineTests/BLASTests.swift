import LifelongEngine
import Testing

@Suite struct BLASTests {
    /// BLAS.gemm against a plain triple loop, for every transpose combination, with row strides
    /// wider than the rows, for one row (which goes through sgemv instead of sgemm), and for
    /// products large enough to be split over the threads by rows or by columns of C.
    @Test(arguments: [(1, 5, 7), (3, 5, 7), (300, 40, 70), (40, 300, 70), (1, 3000, 100)])
    func gemmMatchesThePlainProduct(m: Int, n: Int, k: Int) {
        let pad = 2
        var rng = SeededGenerator(seed: 11)
        for transA in [false, true] {
            for transB in [false, true] {
                // Stored shapes: A is [m, k] or [k, m]; B is [k, n] or [n, k]; each row padded by `pad`.
                let (aRows, aCols) = transA ? (k, m) : (m, k), (bRows, bCols) = transB ? (n, k) : (k, n)
                let (lda, ldb, ldc) = (aCols + pad, bCols + pad, n + pad)
                let a = (0..<(aRows * lda)).map { _ in rng.nextGaussian() }, b = (0..<(bRows * ldb)).map { _ in rng.nextGaussian() }
                var c = (0..<(m * ldc)).map { _ in rng.nextGaussian() }
                var expected = c
                for i in 0..<m {
                    for j in 0..<n {
                        var sum: Float = 0
                        for p in 0..<k {
                            sum += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j])
                        }
                        expected[i * ldc + j] = 0.5 * sum + 2 * c[i * ldc + j]
                    }
                }
                c.withUnsafeMutableBufferPointer { cp in
                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                              beta: 2, c: cp.baseAddress!, ldc: ldc)
                }
                let worst = zip(c, expected).map { abs($0 - $1) }.max()!
                #expect(worst < 1e-5, "transA \(transA) transB \(transB) m \(m): error \(worst)")
            }
        }
    }
}
