import Foundation

/// The ops of a mixture-of-experts layer with token-choice top-k routing (Mixtral, Switch):
/// choose each token's experts and gates, gather each expert's tokens, and add the experts'
/// outputs back weighted by the gates. Grouping tokens by expert turns the experts' work into one
/// matrix product per expert instead of a loop over tokens.

/// The `k` largest router logits of every row of `logits` ([N, E]) and their gates, the softmax
/// over the chosen logits alone (Mixtral's renormalised top-k). Returns the gates [N, k] (a
/// tensor: the router learns through them) and the chosen experts (N·k, best first; the lower
/// index on ties).
///
/// Backward: for row n with gates g over its chosen logits z, dz_i = g_i · (dg_i − Σ_j dg_j g_j).
public func topKGates(_ logits: Tensor, k: Int) -> (gates: Tensor, experts: [Int]) {
    let experts = logits.lastDim, rows = logits.rowCount
    precondition(k >= 1 && k <= experts, "topKGates: k = \(k) with \(experts) experts")
    let gates = Tensor(zeros: [rows, k])
    var chosen = [Int](repeating: 0, count: rows * k)
    let z = logits.data.baseAddress!, g = gates.data.baseAddress!
    for n in 0..<rows {
        let row = z + n * experts
        var best: [Int] = []
        for _ in 0..<k {
            var pick = -1
            for e in 0..<experts where !best.contains(e) && (pick < 0 || row[e] > row[pick]) { pick = e }
            best.append(pick)
        }
        let top = row[best[0]]
        var total: Float = 0
        for (i, e) in best.enumerated() { chosen[n * k + i] = e; g[n * k + i] = exp(row[e] - top); total += g[n * k + i] }
        for i in 0..<k { g[n * k + i] /= total }
    }
    gates.recordBackward([logits]) { dg in
        guard let dz = logits.gradPointer() else { return }
        for n in 0..<rows {
            var dot: Float = 0
            for i in 0..<k { dot += dg[n * k + i] * g[n * k + i] }
            for i in 0..<k { dz[n * experts + chosen[n * k + i]] += g[n * k + i] * (dg[n * k + i] - dot) }
        }
    }
    return (gates, chosen)
}

/// Rows `rows` of `x` ([N, d] seen as rows of its last dimension), as a [rows.count, d] matrix.
/// Backward: the gradient rows are added back where they came from.
public func gatherRows(_ x: Tensor, rows: [Int]) -> Tensor {
    let d = x.lastDim
    let out = Tensor(zeros: [rows.count, d])
    let xp = x.data.baseAddress!, op = out.data.baseAddress!
    for (i, r) in rows.enumerated() { (op + i * d).update(from: xp + r * d, count: d) }
    out.recordBackward([x]) { dy in
        guard let dx = x.gradPointer() else { return }
        for (i, r) in rows.enumerated() { for j in 0..<d { dx[r * d + j] += dy[i * d + j] } }
    }
    return out
}

/// Σ over experts e and their rows i: out[rows_e[i]] += gates.flat[gateIndices_e[i]] · outputs_e[i].
///
/// `outputs[e]` is [rows[e].count, d]; the result is [count, d] (rows no expert took stay 0).
/// Backward: d outputs_e[i] = g · dout[rows_e[i]];  d g += outputs_e[i] · dout[rows_e[i]].
public func combineExperts(_ outputs: [Tensor], rows: [[Int]], gates: Tensor, gateIndices: [[Int]], count: Int) -> Tensor {
    precondition(outputs.count == rows.count && rows.count == gateIndices.count, "combineExperts: one row list and gate list per expert")
    let d = outputs.first?.lastDim ?? 0
    let out = Tensor(zeros: [count, d])
    let op = out.data.baseAddress!, gp = gates.data.baseAddress!
    for (e, h) in outputs.enumerated() {
        precondition(h.rowCount == rows[e].count && h.lastDim == d, "combineExperts: expert \(e) has \(h.shape) for \(rows[e].count) rows")
        let hp = h.data.baseAddress!
        for (i, r) in rows[e].enumerated() {
            let g = gp[gateIndices[e][i]]
            for j in 0..<d { op[r * d + j] += g * hp[i * d + j] }
        }
    }
    out.recordBackward(outputs + [gates]) { dy in
        let dg = gates.gradPointer()
        for (e, h) in outputs.enumerated() {
            let hp = h.data.baseAddress!, dh = h.gradPointer()
            for (i, r) in rows[e].enumerated() {
                let gi = gateIndices[e][i], g = gp[gi]
                if let dh { for j in 0..<d { dh[i * d + j] += g * dy[r * d + j] } }
                if let dg {
                    var dot: Float = 0
                    for j in 0..<d { dot += hp[i * d + j] * dy[r * d + j] }
                    dg[gi] += dot
                }
            }
        }
    }
    return out
}
