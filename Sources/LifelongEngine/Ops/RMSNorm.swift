/// RMSNorm over the last dimension (Llama): y = x · rstd · w,  rstd = 1 / sqrt(mean(x²) + eps).
/// Backward, with x̂ = x · rstd and g = dy · w:
///   dx = rstd · (g − x̂ · mean(g · x̂))      dw += Σ_rows dy · x̂
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) -> Tensor {
    let dim = x.lastDim, rows = x.rowCount
    precondition(weight.count == dim, "rmsNorm: weight size \(weight.count) ≠ \(dim)")
    let out = Tensor(uninitialized: x.shape, op: "rmsNorm")
    let xp = x.data.baseAddress!, wp = weight.data.baseAddress!, yp = out.data.baseAddress!
    var rstd = [Float](repeating: 0, count: rows)

    rstd.withUnsafeMutableBufferPointer { rstdp in
        Parallel.forEach(rows, costPerItem: dim * 3) { r in
            let row = xp + r * dim, y = yp + r * dim
            var sq: Float = 0
            for j in 0..<dim { sq += row[j] * row[j] }
            let s = 1 / (sq / Float(dim) + eps).squareRoot()
            for j in 0..<dim { y[j] = wp[j] * (row[j] * s) }
            rstdp[r] = s
        }
    }

    out.recordBackward([x, weight]) { dy in
        if let dx = x.gradPointer() {
            Parallel.forEach(rows, costPerItem: dim * 5) { r in
                let row = xp + r * dim, g = dy + r * dim, dxr = dx + r * dim, s = rstd[r]
                var gxMean: Float = 0
                for j in 0..<dim { gxMean += g[j] * wp[j] * row[j] * s }
                gxMean /= Float(dim)
                for j in 0..<dim { dxr[j] += s * (g[j] * wp[j] - row[j] * s * gxMean) }
            }
        }
        if let dw = weight.gradPointer() {
            for r in 0..<rows {
                let row = xp + r * dim, g = dy + r * dim, s = rstd[r]
                for j in 0..<dim { dw[j] += g[j] * row[j] * s }
            }
        }
    }
    return out
}
