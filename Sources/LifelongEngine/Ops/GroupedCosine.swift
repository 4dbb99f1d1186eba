/// Similarity of every query with every key, split into `groups` equal chunks:
///
///   s[n, j] = (1/G) Σ_g cos(q[n, g], k[j, g])
///
/// `queries` is [N, D] and constant (sentence embeddings); `keys` is [S, D] and may train (SLM's
/// keys). Backward, with q̂, k̂ the unit chunks and c = q̂·k̂:
///   dk[j, g] += Σ_n dy[n, j] / G · (q̂[n, g] − c · k̂[j, g]) / ‖k[j, g]‖
public func groupedCosineSimilarity(queries: [Float], keys: Tensor, groups: Int) -> Tensor {
    let width = keys.lastDim, slots = keys.rowCount
    precondition(groups > 0 && width % groups == 0, "groupedCosineSimilarity: \(width) dimensions do not split into \(groups) groups")
    precondition(queries.count % width == 0, "groupedCosineSimilarity: \(queries.count) query values for width \(width)")
    let count = queries.count / width, chunk = width / groups
    let unitQueries = unitChunks(queries, chunk: chunk).units
    let (unitKeys, keyNorms) = unitChunks(keys.scalars, chunk: chunk)
    let out = Tensor(zeros: [count, slots])
    let s = out.data.baseAddress!
    for n in 0..<count {
        for j in 0..<slots {
            var total: Float = 0
            for i in 0..<width { total += unitQueries[n * width + i] * unitKeys[j * width + i] }
            s[n * slots + j] = total / Float(groups)
        }
    }
    out.recordBackward([keys]) { dy in
        guard let dk = keys.gradPointer() else { return }
        for n in 0..<count {
            for j in 0..<slots {
                let g = dy[n * slots + j] / Float(groups)
                guard g != 0 else { continue }
                for group in 0..<groups {
                    let q = n * width + group * chunk, k = j * width + group * chunk
                    var c: Float = 0
                    for i in 0..<chunk { c += unitQueries[q + i] * unitKeys[k + i] }
                    let factor = g / keyNorms[j * groups + group]
                    for i in 0..<chunk { dk[k + i] += factor * (unitQueries[q + i] - c * unitKeys[k + i]) }
                }
            }
        }
    }
    return out
}

/// Each `chunk`-long piece of `values` scaled to unit length (zero pieces stay zero), and the norms.
public func unitChunks(_ values: [Float], chunk: Int) -> (units: [Float], norms: [Float]) {
    var units = values, norms = [Float](repeating: 0, count: values.count / chunk)
    for c in 0..<norms.count {
        var total: Float = 0
        for i in (c * chunk)..<((c + 1) * chunk) { total += values[i] * values[i] }
        norms[c] = max(total.squareRoot(), 1e-12)
        for i in (c * chunk)..<((c + 1) * chunk) { units[i] /= norms[c] }
    }
    return (units, norms)
}
