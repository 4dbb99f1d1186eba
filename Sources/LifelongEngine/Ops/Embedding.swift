/// Row lookup: out[i] = weight[ids[i]], for token and position embeddings.
///
/// `weight` is [vocab, dim]; the output has shape `shape + [dim]` (shape defaults to [ids.count]).
/// Backward scatter-adds each output row's gradient into the row it came from; rows are visited
/// in order, so repeated ids accumulate deterministically.
public func embedding(_ weight: Tensor, ids: [Int], shape: [Int]? = nil) -> Tensor {
    precondition(weight.shape.count == 2, "embedding weight must be [vocab, dim], got \(weight.shape)")
    let vocab = weight.shape[0], dim = weight.shape[1]
    let outShape = (shape ?? [ids.count]) + [dim]
    precondition(Tensor.elementCount(outShape) == ids.count * dim, "embedding: \(ids.count) ids do not fill \(outShape)")
    for id in ids { precondition(id >= 0 && id < vocab, "embedding: id \(id) outside the vocabulary of \(vocab)") }
    let out = Tensor(uninitialized: outShape, op: "embedding")
    let wp = weight.data.baseAddress!, op = out.data.baseAddress!
    for (i, id) in ids.enumerated() { (op + i * dim).update(from: wp + id * dim, count: dim) }
    out.recordBackward([weight]) { dy in
        guard let dw = weight.gradPointer() else { return }
        for (i, id) in ids.enumerated() {
            let src = dy + i * dim, dst = dw + id * dim
            for j in 0..<dim { dst[j] += src[j] }
        }
    }
    return out
}
