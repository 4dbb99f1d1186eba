/// Element-wise arithmetic with broadcasting over leading dimensions: `b`'s shape must equal the
/// trailing dimensions of `a`'s (e.g. a [B, T, D] + b [D], or a [B, T, D] + b [T, D]).
/// The gradient of a broadcast operand is the sum of the output gradient over its repeats.

private func broadcastPeriod(_ a: Tensor, _ b: Tensor, _ op: String) -> Int {
    precondition(b.shape.count <= a.shape.count && Array(a.shape.suffix(b.shape.count)) == b.shape,
                 "\(op): shape \(b.shape) does not broadcast against \(a.shape)")
    return b.count
}

/// a + b.
public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    let period = broadcastPeriod(a, b, "add")
    let out = Tensor(uninitialized: a.shape, op: "add")
    let ap = a.data.baseAddress!, bp = b.data.baseAddress!, op = out.data.baseAddress!
    let repeats = a.count / max(period, 1)
    Parallel.forEach(repeats, costPerItem: period) { r in
        let base = r * period
        for i in 0..<period { op[base + i] = ap[base + i] + bp[i] }
    }
    out.recordBackward([a, b]) { dy in
        if let da = a.gradPointer() { for i in 0..<a.count { da[i] += dy[i] } }
        if let db = b.gradPointer() {
            for r in 0..<repeats { for i in 0..<period { db[i] += dy[r * period + i] } }
        }
    }
    return out
}

/// a ⊙ b.
public func mul(_ a: Tensor, _ b: Tensor) -> Tensor {
    let period = broadcastPeriod(a, b, "mul")
    let out = Tensor(uninitialized: a.shape, op: "mul")
    let ap = a.data.baseAddress!, bp = b.data.baseAddress!, op = out.data.baseAddress!
    let repeats = a.count / max(period, 1)
    Parallel.forEach(repeats, costPerItem: period) { r in
        let base = r * period
        for i in 0..<period { op[base + i] = ap[base + i] * bp[i] }
    }
    out.recordBackward([a, b]) { dy in
        if let da = a.gradPointer() {
            for r in 0..<repeats { for i in 0..<period { da[r * period + i] += dy[r * period + i] * bp[i] } }
        }
        if let db = b.gradPointer() {
            for r in 0..<repeats { for i in 0..<period { db[i] += dy[r * period + i] * ap[r * period + i] } }
        }
    }
    return out
}

/// s · a.
public func scale(_ a: Tensor, _ s: Float) -> Tensor {
    let out = Tensor(uninitialized: a.shape, op: "scale")
    let ap = a.data.baseAddress!, op = out.data.baseAddress!
    for i in 0..<a.count { op[i] = ap[i] * s }
    out.recordBackward([a]) { dy in
        if let da = a.gradPointer() { for i in 0..<a.count { da[i] += dy[i] * s } }
    }
    return out
}
