/// How a weight matrix is stored.
public enum WeightLayout: Sendable {
    /// [out, in], as PyTorch's `nn.Linear` (and Llama, BERT): y = x · Wᵀ.
    case outIn
    /// [in, out], as GPT-2's `Conv1D`: y = x · W.
    case inOut
}

/// Fully connected layer: y = x · W (+ b) over the last dimension of `x`.
///
/// Forward and backward are three GEMMs with the transposes chosen per layout, so no weight is
/// ever copied or transposed in memory:
///   forward   y[N,out]  = x[N,in] · W
///   backward  dx[N,in] += dy · Wᵀ      dW += (xᵀ · dy, laid out like W)      db += Σ_rows dy
public func linear(_ x: Tensor, _ weight: Tensor, _ bias: Tensor? = nil, layout: WeightLayout = .outIn) -> Tensor {
    precondition(weight.shape.count == 2, "linear weight must be 2-D, got \(weight.shape)")
    let inFeatures = layout == .outIn ? weight.shape[1] : weight.shape[0]
    let outFeatures = layout == .outIn ? weight.shape[0] : weight.shape[1]
    precondition(x.lastDim == inFeatures, "linear: input width \(x.lastDim) ≠ weight in-features \(inFeatures)")
    precondition(bias == nil || bias!.count == outFeatures, "linear: bias size ≠ \(outFeatures)")
    let rows = x.rowCount
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures], op: "linear")
    let xp = x.data.baseAddress!, wp = weight.data.baseAddress!, yp = out.data.baseAddress!
    let weightIsOutIn = layout == .outIn

    if let bias {  // y = b, then y += x·W (beta = 1): the bias costs no extra pass.
        let bp = bias.data.baseAddress!
        for r in 0..<rows { (yp + r * outFeatures).update(from: bp, count: outFeatures) }
    }
    BLAS.gemm(transB: weightIsOutIn, m: rows, n: outFeatures, k: inFeatures,
              a: xp, lda: inFeatures, b: wp, ldb: weightIsOutIn ? inFeatures : outFeatures,
              beta: bias == nil ? 0 : 1, c: yp, ldc: outFeatures)

    out.recordBackward([x, weight] + (bias.map { [$0] } ?? [])) { dy in
        if let dx = x.gradPointer() {
            BLAS.gemm(transB: !weightIsOutIn, m: rows, n: inFeatures, k: outFeatures,
                      a: dy, lda: outFeatures, b: wp, ldb: weightIsOutIn ? inFeatures : outFeatures,
                      beta: 1, c: dx, ldc: inFeatures)
        }
        if let dw = weight.gradPointer() {
            if weightIsOutIn {  // dW[out,in] += dyᵀ · x
                BLAS.gemm(transA: true, m: outFeatures, n: inFeatures, k: rows,
                          a: dy, lda: outFeatures, b: xp, ldb: inFeatures, beta: 1, c: dw, ldc: inFeatures)
            } else {            // dW[in,out] += xᵀ · dy
                BLAS.gemm(transA: true, m: inFeatures, n: outFeatures, k: rows,
                          a: xp, lda: inFeatures, b: dy, ldb: outFeatures, beta: 1, c: dw, ldc: outFeatures)
            }
        }
        if let bias, let db = bias.gradPointer() {
            for r in 0..<rows {
                let row = dy + r * outFeatures
                for j in 0..<outFeatures { db[j] += row[j] }
            }
        }
    }
    return out
}

/// Batched matrix product over leading dimensions: out[..., M, N] = op(a)[..., M, K] · op(b)[..., K, N].
///
/// `a` is [..., M, K] (or [..., K, M] with `transposeA`), `b` is [..., K, N] (or [..., N, K] with
/// `transposeB`); the leading (batch) dimensions must be equal. Backward:
///   dA += dOut · op(b)ᵀ  (transposed back if a was)      dB += op(a)ᵀ · dOut  (likewise)
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.shape.count >= 2 && b.shape.count >= 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
    let batchShape = Array(a.shape.dropLast(2))
    precondition(batchShape == Array(b.shape.dropLast(2)), "matmul batch dims differ: \(a.shape) vs \(b.shape)")
    let (ar, ac) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1])
    let (br, bc) = (b.shape[b.shape.count - 2], b.shape[b.shape.count - 1])
    let (m, k) = transposeA ? (ac, ar) : (ar, ac)
    let (k2, n) = transposeB ? (bc, br) : (br, bc)
    precondition(k == k2, "matmul inner dims differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
    let batches = batchShape.reduce(1, *)
    let out = Tensor(uninitialized: batchShape + [m, n], op: "matmul")
    let ap = a.data.baseAddress!, bp = b.data.baseAddress!, op = out.data.baseAddress!
    let aSize = ar * ac, bSize = br * bc, oSize = m * n

    for i in 0..<batches {
        BLAS.gemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                  a: ap + i * aSize, lda: ac, b: bp + i * bSize, ldb: bc, c: op + i * oSize, ldc: n)
    }

    out.recordBackward([a, b]) { dOut in
        if let da = a.gradPointer() {
            for i in 0..<batches {
                let dOuti = dOut + i * oSize, bi = bp + i * bSize, dai = da + i * aSize
                if transposeA {  // dA[K,M] += op(b) · dOutᵀ
                    BLAS.gemm(transA: transposeB, transB: true, m: k, n: m, k: n,
                              a: bi, lda: bc, b: dOuti, ldb: n, beta: 1, c: dai, ldc: ac)
                } else {         // dA[M,K] += dOut · op(b)ᵀ
                    BLAS.gemm(transB: !transposeB, m: m, n: k, k: n,
                              a: dOuti, lda: n, b: bi, ldb: bc, beta: 1, c: dai, ldc: ac)
                }
            }
        }
        if let db = b.gradPointer() {
            for i in 0..<batches {
                let dOuti = dOut + i * oSize, ai = ap + i * aSize, dbi = db + i * bSize
                if transposeB {  // dB[N,K] += dOutᵀ · op(a)
                    BLAS.gemm(transA: true, transB: transposeA, m: n, n: k, k: m,
                              a: dOuti, lda: n, b: ai, ldb: ac, beta: 1, c: dbi, ldc: bc)
                } else {         // dB[K,N] += op(a)ᵀ · dOut
                    BLAS.gemm(transA: !transposeA, m: k, n: n, k: m,
                              a: ai, lda: ac, b: dOuti, ldb: n, beta: 1, c: dbi, ldc: bc)
                }
            }
        }
    }
    return out
}
