/// The weighted sum of low-rank increments applied to `x`, with its own mixture per sequence:
///
///   y[b,t,:] = Σ_j w[b,j] · (x[b,t,:] · A_jᵀ) · B_j          A_j, B_j ∈ R^{r×…}
///
/// `x` is [B, T, in] (or [B, in], T = 1); `a[j]` is [r, in], `b[j]` is [r, out]; `weights` is
/// [B × slots], row-major, one mixture per sequence (SLM's retrieved slots; zero for the slots a
/// sequence does not use). No in×out matrix is ever built: per used slot, two thin products.
///
/// Forward, over the slots j used by some sequence (u_j = x·A_jᵀ, [N, r]):
///   y += Σ_j (w_j ⊙ u_j) · B_j             (w_j scales each row of u_j by its sequence's weight)
/// Backward (dy [N, out]), per used slot:
///   dB_j += (w_j ⊙ u_j)ᵀ · dy              du_j = w_j ⊙ (dy · B_jᵀ)
///   dA_j += du_jᵀ · x                      dx  += du_j · A_j
public func lowRankMixture(_ x: Tensor, a: [Tensor], b: [Tensor], weights: [Float]) -> Tensor {
    precondition(a.count == b.count, "lowRankMixture: \(a.count) A factors, \(b.count) B factors")
    let sequences = x.shape[0], rows = x.rowCount, perSequence = rows / max(sequences, 1)
    let inFeatures = x.lastDim, slots = a.count
    precondition(weights.count == sequences * slots, "lowRankMixture: \(weights.count) weights for \(sequences) sequences × \(slots) slots")
    let outFeatures = b.first?.shape[1] ?? inFeatures
    let out = Tensor(zeros: Array(x.shape.dropLast()) + [outFeatures])
    // Slots no sequence uses cost nothing: neither products nor gradients.
    let used = (0..<slots).filter { j in (0..<sequences).contains { weights[$0 * slots + j] != 0 } }
    guard !used.isEmpty else { return out }
    for j in used {
        precondition(a[j].shape == [a[j].shape[0], inFeatures] && b[j].shape == [a[j].shape[0], outFeatures],
                     "lowRankMixture: slot \(j) has A \(a[j].shape), B \(b[j].shape) for \(inFeatures) → \(outFeatures)")
    }
    let xp = x.data.baseAddress!, yp = out.data.baseAddress!

    /// u_j = x · A_jᵀ with each row scaled by its sequence's weight ([N, r]).
    func weightedProjection(_ j: Int, into u: UnsafeMutablePointer<Float>) {
        let rank = a[j].shape[0]
        BLAS.gemm(transB: true, m: rows, n: rank, k: inFeatures, a: xp, lda: inFeatures,
                  b: a[j].data.baseAddress!, ldb: inFeatures, c: u, ldc: rank)
        scaleRows(u, rank: rank, slot: j)
    }
    func scaleRows(_ u: UnsafeMutablePointer<Float>, rank: Int, slot j: Int) {
        for row in 0..<rows {
            let w = weights[(row / perSequence) * slots + j], r = u + row * rank
            for i in 0..<rank { r[i] *= w }
        }
    }

    // The used slots side by side, so that a batch mixing many slots (decoding, where every
    // row retrieves its own) costs two products instead of two per slot:
    //   U = x · [A_j1; A_j2; …]ᵀ  [N, S·r],  block j of each row scaled by its weight,  y += U · [B_j1; B_j2; …]
    let rank = a[used[0]].shape[0], width = used.count * rank
    precondition(used.allSatisfy { a[$0].shape[0] == rank }, "lowRankMixture: slots of different ranks")
    var stackedA = [Float](repeating: 0, count: width * inFeatures), stackedB = [Float](repeating: 0, count: width * outFeatures)
    for (k, j) in used.enumerated() {
        stackedA.withUnsafeMutableBufferPointer { ($0.baseAddress! + k * rank * inFeatures).update(from: a[j].data.baseAddress!, count: rank * inFeatures) }
        stackedB.withUnsafeMutableBufferPointer { ($0.baseAddress! + k * rank * outFeatures).update(from: b[j].data.baseAddress!, count: rank * outFeatures) }
    }
    var u = [Float](repeating: 0, count: rows * width)
    u.withUnsafeMutableBufferPointer { u in
        let u = u.baseAddress!
        BLAS.gemm(transB: true, m: rows, n: width, k: inFeatures, a: xp, lda: inFeatures, b: stackedA, ldb: inFeatures, c: u, ldc: width)
        for row in 0..<rows {
            let sequence = row / perSequence
            for (k, j) in used.enumerated() {
                let w = weights[sequence * slots + j], block = u + row * width + k * rank
                for i in 0..<rank { block[i] *= w }
            }
        }
        BLAS.gemm(m: rows, n: outFeatures, k: width, a: u, lda: width, b: stackedB, ldb: outFeatures, beta: 1, c: yp, ldc: outFeatures)
    }

    out.recordBackward([x] + a + b) { dy in
        let dx = x.gradPointer()
        for j in used {
            let rank = a[j].shape[0], ap = a[j].data.baseAddress!, bp = b[j].data.baseAddress!
            var u = [Float](repeating: 0, count: rows * rank)
            u.withUnsafeMutableBufferPointer { u in
                let u = u.baseAddress!
                if let db = b[j].gradPointer() {
                    weightedProjection(j, into: u)
                    BLAS.gemm(transA: true, m: rank, n: outFeatures, k: rows, a: u, lda: rank,
                              b: dy, ldb: outFeatures, beta: 1, c: db, ldc: outFeatures)
                }
                let da = a[j].gradPointer()
                guard da != nil || dx != nil else { return }
                // du_j = w_j ⊙ (dy · B_jᵀ), reusing u's buffer.
                BLAS.gemm(transB: true, m: rows, n: rank, k: outFeatures, a: dy, lda: outFeatures,
                          b: bp, ldb: outFeatures, c: u, ldc: rank)
                scaleRows(u, rank: rank, slot: j)
                if let da {
                    BLAS.gemm(transA: true, m: rank, n: inFeatures, k: rows, a: u, lda: rank,
                              b: xp, ldb: inFeatures, beta: 1, c: da, ldc: inFeatures)
                }
                if let dx {
                    BLAS.gemm(m: rows, n: inFeatures, k: rank, a: u, lda: rank,
                              b: ap, ldb: inFeatures, beta: 1, c: dx, ldc: inFeatures)
                }
            }
        }
    }
    return out
}
