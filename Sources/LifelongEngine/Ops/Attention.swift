import Foundation

/// Multi-head attention with grouped-query heads, fused: softmax(q·kᵀ/√D + mask) · v. Causal
/// (decoders) by default; `causal: false` lets every query see every key (encoders such as BERT).
///
/// Layout is the projections' own, so nothing is transposed: `q` is [B, T, Hq·D], `k` and `v` are
/// [B, S, Hkv·D] (S ≥ T; query t sits at key position t + S − T, so S > T is decoding with a cache).
/// Query head h reads kv head h / (Hq / Hkv). `keyMask` ([B·S], true = real token) hides padding.
/// A query with no visible key (a padding row) outputs zeros.
///
/// The probabilities P are kept for the backward, which per query row computes
///   dP = dO · vᵀ,  dS = P ⊙ (dP − Σ P ⊙ dP),  dq = dS · k / √D,  dk += dSᵀ · q / √D,  dv += Pᵀ · dO.
/// Work is split over (batch, kv head) so that the heads sharing k and v accumulate their
/// gradients in one thread, with no locks and a fixed summation order.
public func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int, kvHeads: Int, causal: Bool = true,
                      keyMask: [Bool]? = nil) -> Tensor {
    precondition(q.shape.count == 3 && k.shape.count == 3 && v.shape == k.shape,
                 "attention: q \(q.shape), k \(k.shape), v \(v.shape) must be [B, T, H·D]")
    let batch = q.shape[0], queries = q.shape[1], keys = k.shape[1]
    precondition(k.shape[0] == batch && keys >= queries, "attention: k \(k.shape) does not match q \(q.shape)")
    precondition(heads % kvHeads == 0, "attention: \(heads) heads not a multiple of \(kvHeads) kv heads")
    let headDim = q.lastDim / heads
    precondition(headDim * heads == q.lastDim && headDim * kvHeads == k.lastDim, "attention: head sizes disagree")
    precondition(keyMask == nil || keyMask!.count == batch * keys, "attention: key mask needs \(batch * keys) entries")

    let qWidth = heads * headDim, kvWidth = kvHeads * headDim, group = heads / kvHeads
    let scale = 1 / Float(headDim).squareRoot()
    let out = Tensor(uninitialized: q.shape, op: "attention")
    // probabilities[b][h][t][j], zero where masked or in the future.
    let probabilities = TensorStorage(zeros: batch * heads * queries * keys)
    let qp = q.data.baseAddress!, kp = k.data.baseAddress!, vp = v.data.baseAddress!
    let op = out.data.baseAddress!, pp = probabilities.pointer

    let geometry = AttentionGeometry(batch: batch, queries: queries, keys: keys, keyRowsPerBatch: keys,
                                     heads: heads, kvHeads: kvHeads, headDim: headDim, causal: causal)
    attentionForward(geometry, q: qp, k: kp, v: vp, keyMask: keyMask, probabilities: pp, out: op)

    out.recordBackward([q, k, v]) { dOut in
        let dq = q.gradPointer(), dk = k.gradPointer(), dv = v.gradPointer()
        // Per head, five matrix products (the masked and future entries of P are zero):
        //   dP = dO·vᵀ [T, S];  dS = P ⊙ (dP − rowsum(P ⊙ dP)) / √D;  dq += dS·k;  dk += dSᵀ·q;  dv += Pᵀ·dO
        Parallel.forEach(batch * kvHeads, costPerItem: group * queries * keys * headDim * 10) { bkv in
            let b = bkv / kvHeads, kvh = bkv % kvHeads
            let kBase = kp + b * keys * kvWidth + kvh * headDim, vBase = vp + b * keys * kvWidth + kvh * headDim
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: queries * keys)
            defer { scores.deallocate() }
            for h in (kvh * group)..<((kvh + 1) * group) {
                let qBase = qp + b * queries * qWidth + h * headDim
                let dOutBase = dOut + b * queries * qWidth + h * headDim
                let pBase = pp + (b * heads + h) * queries * keys
                BLAS.gemmOnOneThread(transA: false, transB: true, m: queries, n: keys, k: headDim, alpha: 1,
                                     a: dOutBase, lda: qWidth, b: vBase, ldb: kvWidth, beta: 0, c: scores, ldc: keys)
                for t in 0..<queries {
                    let pRow = pBase + t * keys, dRow = scores + t * keys
                    let rowDot = VectorMath.dot(pRow, dRow, count: keys)
                    for j in 0..<keys { dRow[j] = pRow[j] * (dRow[j] - rowDot) * scale }
                }
                if let dq {
                    BLAS.gemmOnOneThread(transA: false, transB: false, m: queries, n: headDim, k: keys, alpha: 1,
                                         a: scores, lda: keys, b: kBase, ldb: kvWidth, beta: 1,
                                         c: dq + b * queries * qWidth + h * headDim, ldc: qWidth)
                }
                if let dk {
                    BLAS.gemmOnOneThread(transA: true, transB: false, m: keys, n: headDim, k: queries, alpha: 1,
                                         a: scores, lda: keys, b: qBase, ldb: qWidth, beta: 1,
                                         c: dk + b * keys * kvWidth + kvh * headDim, ldc: kvWidth)
                }
                if let dv {
                    BLAS.gemmOnOneThread(transA: true, transB: false, m: keys, n: headDim, k: queries, alpha: 1,
                                         a: pBase, lda: keys, b: dOutBase, ldb: qWidth, beta: 1,
                                         c: dv + b * keys * kvWidth + kvh * headDim, ldc: kvWidth)
                }
            }
        }
        _ = probabilities  // keep P alive for as long as the backward can run
    }
    return out
}

/// Sizes of one attention call. `keyRowsPerBatch` ≥ `keys` lets k and v live in a larger buffer
/// (a KV cache with room to grow) without being copied.
struct AttentionGeometry {
    let batch: Int, queries: Int, keys: Int, keyRowsPerBatch: Int
    let heads: Int, kvHeads: Int, headDim: Int
    let causal: Bool

    /// The last key query t may see: its own position in a causal layer, else the last key.
    @inline(__always) func lastVisibleKey(query t: Int) -> Int { causal ? t + keys - queries : keys - 1 }
}

/// The forward kernel: per (batch, head) and query row, scores over the visible keys, a stable
/// softmax into `probabilities` (row-major [B, H, T, keys]; zero where masked), then P · v.
func attentionForward(_ g: AttentionGeometry, q qp: UnsafePointer<Float>, k kp: UnsafePointer<Float>,
                      v vp: UnsafePointer<Float>, keyMask: [Bool]?, probabilities pp: UnsafeMutablePointer<Float>,
                      out op: UnsafeMutablePointer<Float>) {
    let (queries, keys, headDim, heads) = (g.queries, g.keys, g.headDim, g.heads)
    let qWidth = heads * headDim, kvWidth = g.kvHeads * headDim, group = heads / g.kvHeads
    let scale = 1 / Float(headDim).squareRoot()
    Parallel.forEach(g.batch * heads, costPerItem: queries * keys * headDim * 2) { bh in
        let b = bh / heads, h = bh % heads, kvh = h / group
        let kBase = kp + b * g.keyRowsPerBatch * kvWidth + kvh * headDim
        let vBase = vp + b * g.keyRowsPerBatch * kvWidth + kvh * headDim
        if queries >= 8 {
            // Many queries (training, prompts): S = q·kᵀ/√D and O = P·v as matrix products of the
            // head; the future entries are computed and then dropped, which BLAS still does faster.
            let qBase = qp + b * queries * qWidth + h * headDim, pBase = pp + bh * queries * keys
            let oBase = op + b * queries * qWidth + h * headDim
            BLAS.gemmOnOneThread(transA: false, transB: true, m: queries, n: keys, k: headDim, alpha: scale,
                                 a: qBase, lda: qWidth, b: kBase, ldb: kvWidth, beta: 0, c: pBase, ldc: keys)
            for t in 0..<queries {
                let pRow = pBase + t * keys, last = g.lastVisibleKey(query: t)
                if let keyMask { for j in 0...last where !keyMask[b * keys + j] { pRow[j] = -.infinity } }
                for j in (last + 1)..<max(last + 1, keys) { pRow[j] = 0 }
                let maxScore = VectorMath.maximum(pRow, count: last + 1)
                guard maxScore > -Float.infinity else {
                    for j in 0...last { pRow[j] = 0 }
                    continue
                }
                let inv = 1 / VectorMath.exponentials(pRow, minus: maxScore, into: pRow, count: last + 1)
                for j in 0...last { pRow[j] *= inv }
            }
            BLAS.gemmOnOneThread(transA: false, transB: false, m: queries, n: headDim, k: keys, alpha: 1,
                                 a: pBase, lda: keys, b: vBase, ldb: kvWidth, beta: 0, c: oBase, ldc: qWidth)
            return
        }
        for t in 0..<queries {
            let qRow = qp + (b * queries + t) * qWidth + h * headDim
            let pRow = pp + ((b * heads + h) * queries + t) * keys
            let oRow = op + (b * queries + t) * qWidth + h * headDim
            let last = g.lastVisibleKey(query: t)
            var maxScore = -Float.infinity
            for j in 0...last {
                if keyMask?[b * keys + j] ?? true {
                    pRow[j] = VectorMath.dot(qRow, kBase + j * kvWidth, count: headDim) * scale
                    maxScore = max(maxScore, pRow[j])
                } else {
                    pRow[j] = -.infinity  // e^−∞ = 0 below
                }
            }
            for d in 0..<headDim { oRow[d] = 0 }
            guard maxScore > -Float.infinity else {
                for j in 0...last { pRow[j] = 0 }
                continue
            }
            let sum = VectorMath.exponentials(pRow, minus: maxScore, into: pRow, count: last + 1)
            let inv = 1 / sum
            for j in 0...last where pRow[j] != 0 {
                pRow[j] *= inv
                VectorMath.addScaled(vBase + j * kvWidth, scale: pRow[j], into: oRow, count: headDim)
            }
        }
    }
}

/// Attention of new queries over keys and values held in a cache buffer [B, capacity, Hkv·D] whose
/// first `keys` rows per sequence are filled (inference only: records no gradient).
/// `keyMask` has B·keys entries.
public func cachedAttention(q: Tensor, keyCache: Tensor, valueCache: Tensor, keys: Int,
                            heads: Int, kvHeads: Int, keyMask: [Bool]?) -> Tensor {
    let batch = q.shape[0], queries = q.shape[1], headDim = q.lastDim / heads
    precondition(keyCache.shape == valueCache.shape && keyCache.shape[0] == batch && keys <= keyCache.shape[1]
                 && keys >= queries && keyCache.lastDim == kvHeads * headDim, "cachedAttention: cache shapes disagree")
    let geometry = AttentionGeometry(batch: batch, queries: queries, keys: keys, keyRowsPerBatch: keyCache.shape[1],
                                     heads: heads, kvHeads: kvHeads, headDim: headDim, causal: true)
    let out = Tensor(uninitialized: q.shape, op: "cachedAttention")
    let probabilities = TensorStorage(zeros: batch * heads * queries * keys)
    attentionForward(geometry, q: q.data.baseAddress!, k: keyCache.data.baseAddress!, v: valueCache.data.baseAddress!,
                     keyMask: keyMask, probabilities: probabilities.pointer, out: out.data.baseAddress!)
    return out
}
