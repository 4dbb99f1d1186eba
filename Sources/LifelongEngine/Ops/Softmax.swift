import Foundation

/// Softmax over the last dimension, computed stably (the row maximum is subtracted first).
/// Backward: dx = y ⊙ (dy − Σ_j dy_j · y_j).
public func softmax(_ x: Tensor) -> Tensor {
    let dim = x.lastDim, rows = x.rowCount
    let out = Tensor(uninitialized: x.shape, op: "softmax")
    let xp = x.data.baseAddress!, yp = out.data.baseAddress!
    Parallel.forEach(rows, costPerItem: dim * 8) { r in
        softmaxRow(xp + r * dim, into: yp + r * dim, count: dim)
    }
    out.recordBackward([x]) { dy in
        guard let dx = x.gradPointer() else { return }
        Parallel.forEach(rows, costPerItem: dim * 3) { r in
            let y = yp + r * dim, g = dy + r * dim, d = dx + r * dim
            let dot = VectorMath.dot(g, y, count: dim)
            for j in 0..<dim { d[j] += y[j] * (g[j] - dot) }
        }
    }
    return out
}

/// y = softmax(x) for one row of `count` values; returns log Σ exp(x) (the log-partition).
@inline(__always) @discardableResult
func softmaxRow(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) -> Float {
    let maxValue = VectorMath.maximum(x, count: count)
    let sum = VectorMath.exponentials(x, minus: maxValue, into: y, count: count)
    let inv = 1 / sum
    for j in 0..<count { y[j] *= inv }
    return maxValue + log(sum)
}
