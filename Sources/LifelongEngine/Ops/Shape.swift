extension Tensor {
    /// The same elements seen with another shape (a free view; one dimension may be -1).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let free = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != free }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            resolved[free] = count / known
        }
        precondition(Tensor.elementCount(resolved) == count, "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        let out = Tensor(viewOf: self, shape: resolved, offset: offset, op: "reshape")
        out.recordBackward([self]) { dy in
            if let dx = self.gradPointer() { for i in 0..<self.count { dx[i] += dy[i] } }
        }
        return out
    }
}

/// Splits the last dimension into consecutive pieces of the given widths (copies; e.g. GPT-2's
/// fused q|k|v projection into q, k and v).
public func split(_ x: Tensor, widths: [Int]) -> [Tensor] {
    let width = x.lastDim, rows = x.rowCount
    precondition(widths.reduce(0, +) == width, "split widths \(widths) do not add up to \(width)")
    let xp = x.data.baseAddress!
    var start = 0
    return widths.map { w in
        let part = Tensor(uninitialized: Array(x.shape.dropLast()) + [w], op: "split")
        let pp = part.data.baseAddress!, s = start
        for r in 0..<rows { (pp + r * w).update(from: xp + r * width + s, count: w) }
        part.recordBackward([x]) { dy in
            guard let dx = x.gradPointer() else { return }
            for r in 0..<rows { for j in 0..<w { dx[r * width + s + j] += dy[r * w + j] } }
        }
        start += w
        return part
    }
}
