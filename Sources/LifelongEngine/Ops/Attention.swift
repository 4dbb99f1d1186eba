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
        Parallel.forEach(batch * kvHeads, costPerItem: group * queries * keys * headDim * 4) { bkv in
            let b = bkv / kvHeads, kvh = bkv % kvHeads
            var dP = [Float](repeating: 0, count: keys)
            for h in (kvh * group)..<((kvh + 1) * group) {
                for t in 0..<queries {
                    let qRow = qp + (b * queries + t) * qWidth + h * headDim
                    let dOutRow = dOut + (b * queries + t) * qWidth + h * headDim
                    let pRow = pp + ((b * heads + h) * queries + t) * keys
                    let last = geometry.lastVisibleKey(query: t)
                    var rowDot: Float = 0
                    for j in 0...last where pRow[j] != 0 {
                        let vRow = vp + (b * keys + j) * kvWidth + kvh * headDim
                        let dot = VectorMath.dot(dOutRow, vRow, count: headDim)
                        dP[j] = dot
                        rowDot += pRow[j] * dot
                    }
                    for j in 0...last where pRow[j] != 0 {
                        let p = pRow[j], dS = p * (dP[j] - rowDot) * scale
                        let kOff = (b * keys + j) * kvWidth + kvh * headDim
                        if let dq {
                            VectorMath.addScaled(kp + kOff, scale: dS, into: dq + (b * queries + t) * qWidth + h * headDim, count: headDim)
                        }
                        if let dk { VectorMath.addScaled(qRow, scale: dS, into: dk + kOff, count: headDim) }
                        if let dv { VectorMath.addScaled(dOutRow, scale: p, into: dv + kOff, count: headDim) }
                    }
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
