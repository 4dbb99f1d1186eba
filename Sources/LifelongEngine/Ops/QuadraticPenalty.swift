/// strength · Σ_p Σ_i ω_i (θ_i − θ*_i)²: a quadratic pull of parameters θ towards anchors θ*,
/// weighted per element by ω (EWC's Fisher importance, or ω = 1 for a plain L2 pull).
///
/// Each entry's `anchor` and `importance` may be shorter than the parameter (rows added to the
/// vocabulary after anchoring carry no penalty). Backward: dθ_i += dy · 2·strength·ω_i·(θ_i − θ*_i).
public func quadraticPenalty(_ entries: [(parameter: Tensor, anchor: [Float], importance: [Float])], strength: Float) -> Tensor {
    var total: Double = 0
    for (p, theta, omega) in entries {
        let w = p.data
        for i in 0..<min(theta.count, omega.count, p.count) {
            let d = w[i] - theta[i]
            total += Double(omega[i] * d * d)
        }
    }
    let out = Tensor([Float(total) * strength], shape: [])
    out.recordBackward(entries.map(\.parameter)) { dy in
        let twiceStrength = 2 * strength, scale = dy[0]
        for (p, theta, omega) in entries {
            guard let g = p.gradPointer() else { continue }
            let w = p.data
            for i in 0..<min(theta.count, omega.count, p.count) {
                g[i] += scale * (twiceStrength * omega[i] * (w[i] - theta[i]))
            }
        }
    }
    return out
}
