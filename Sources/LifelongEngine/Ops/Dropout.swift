/// Inverted dropout: each element is zeroed with probability p and the survivors are scaled by
/// 1/(1−p), so evaluation needs no rescaling. The mask is drawn sequentially from `rng`, so it does
/// not depend on the thread count. p = 0 returns `x` itself.
public func dropout(_ x: Tensor, probability p: Float, rng: inout SeededGenerator) -> Tensor {
    precondition(p >= 0 && p < 1, "dropout probability \(p) must be in [0, 1)")
    guard p > 0 else { return x }
    let keep = 1 / (1 - p)
    var mask = [Float](repeating: 0, count: x.count)
    for i in 0..<x.count where rng.nextFloat() >= p { mask[i] = keep }
    let out = Tensor(uninitialized: x.shape, op: "dropout")
    let xp = x.data.baseAddress!, yp = out.data.baseAddress!
    for i in 0..<x.count { yp[i] = xp[i] * mask[i] }
    out.recordBackward([x]) { dy in
        guard let dx = x.gradPointer() else { return }
        for i in 0..<x.count { dx[i] += dy[i] * mask[i] }
    }
    return out
}
