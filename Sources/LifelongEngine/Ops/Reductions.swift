/// Sum of all elements (accumulated in double precision), as a scalar.
public func sum(_ x: Tensor) -> Tensor {
    var total: Double = 0
    for value in x.data { total += Double(value) }
    let out = Tensor([Float(total)], shape: [])
    out.recordBackward([x]) { dy in
        guard let dx = x.gradPointer() else { return }
        for i in 0..<x.count { dx[i] += dy[0] }
    }
    return out
}

/// Mean of all elements, as a scalar.
public func mean(_ x: Tensor) -> Tensor {
    scale(sum(x), 1 / Float(max(x.count, 1)))
}
