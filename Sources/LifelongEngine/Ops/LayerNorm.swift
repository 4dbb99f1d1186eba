import Foundation

/// LayerNorm over the last dimension (GPT-2, BERT):
///   y = (x − mean) · rstd · w + b,   rstd = 1 / sqrt(var + eps),  var biased (÷ D).
/// Backward, with x̂ = (x − mean) · rstd and g = dy · w:
///   dx = rstd · (g − mean(g) − x̂ · mean(g · x̂))      dw += Σ_rows dy · x̂      db += Σ_rows dy
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
    let dim = x.lastDim, rows = x.rowCount
    precondition(weight.count == dim && bias.count == dim, "layerNorm: weight/bias size ≠ \(dim)")
    let out = Tensor(uninitialized: x.shape, op: "layerNorm")
    let xp = x.data.baseAddress!, wp = weight.data.baseAddress!, bp = bias.data.baseAddress!
    let yp = out.data.baseAddress!
    var mean = [Float](repeating: 0, count: rows), rstd = [Float](repeating: 0, count: rows)

    mean.withUnsafeMutableBufferPointer { meanp in
        rstd.withUnsafeMutableBufferPointer { rstdp in
            Parallel.forEach(rows, costPerItem: dim * 4) { r in
                let row = xp + r * dim, y = yp + r * dim
                var sum: Float = 0
                for j in 0..<dim { sum += row[j] }
                let m = sum / Float(dim)
                var sq: Float = 0
                for j in 0..<dim { let d = row[j] - m; sq += d * d }
                let s = 1 / (sq / Float(dim) + eps).squareRoot()
                for j in 0..<dim { y[j] = (row[j] - m) * s * wp[j] + bp[j] }
                meanp[r] = m; rstdp[r] = s
            }
        }
    }

    out.recordBackward([x, weight, bias]) { dy in
        let dx = x.gradPointer(), dw = weight.gradPointer(), db = bias.gradPointer()
        if let dx {
            Parallel.forEach(rows, costPerItem: dim * 6) { r in
                let row = xp + r * dim, g = dy + r * dim, dxr = dx + r * dim
                let m = mean[r], s = rstd[r]
                var gMean: Float = 0, gxMean: Float = 0
                for j in 0..<dim {
                    let gj = g[j] * wp[j]
                    gMean += gj; gxMean += gj * (row[j] - m) * s
                }
                gMean /= Float(dim); gxMean /= Float(dim)
                for j in 0..<dim {
                    let xhat = (row[j] - m) * s
                    dxr[j] += s * (g[j] * wp[j] - gMean - xhat * gxMean)
                }
            }
        }
        if dw != nil || db != nil {
            for r in 0..<rows {
                let row = xp + r * dim, g = dy + r * dim, m = mean[r], s = rstd[r]
                if let dw { for j in 0..<dim { dw[j] += g[j] * (row[j] - m) * s } }
                if let db { for j in 0..<dim { db[j] += g[j] } }
            }
        }
    }
    return out
}
