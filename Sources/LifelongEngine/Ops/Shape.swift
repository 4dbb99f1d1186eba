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

    /// The transpose of a matrix [r, c] as a new [c, r] tensor of values (no gradient flows
    /// through it: for writing weights in another layout, e.g. GPT-2's Conv1D ones as [out, in]).
    public func transposedValues() -> Tensor {
        precondition(shape.count == 2, "transposedValues: a matrix, not shape \(shape)")
        let rows = shape[0], columns = shape[1], out = Tensor(zeros: [columns, rows])
        let source = data.baseAddress!, target = out.data.baseAddress!
        for r in 0..<rows { for c in 0..<columns { target[c * rows + r] = source[r * columns + c] } }
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

/// The inverse of `split`: the parts side by side along the last dimension (a copy; e.g. the
/// router blocks of a mixture of experts, one per growth, as one logits matrix).
public func concatenateLastDimension(_ parts: [Tensor]) -> Tensor {
    precondition(!parts.isEmpty, "concatenateLastDimension needs at least one part")
    let rows = parts[0].rowCount, widths = parts.map(\.lastDim), width = widths.reduce(0, +)
    precondition(parts.allSatisfy { $0.rowCount == rows }, "concatenateLastDimension: parts have different row counts")
    let out = Tensor(uninitialized: Array(parts[0].shape.dropLast()) + [width], op: "concatenate")
    let op = out.data.baseAddress!
    var start = 0
    var starts: [Int] = []
    for (part, w) in zip(parts, widths) {
        let pp = part.data.baseAddress!
        for r in 0..<rows { (op + r * width + start).update(from: pp + r * w, count: w) }
        starts.append(start); start += w
    }
    out.recordBackward(parts) { dy in
        for (i, part) in parts.enumerated() {
            guard let dx = part.gradPointer() else { continue }
            let (w, s) = (widths[i], starts[i])
            for r in 0..<rows { for j in 0..<w { dx[r * w + j] += dy[r * width + s + j] } }
        }
    }
    return out
}
