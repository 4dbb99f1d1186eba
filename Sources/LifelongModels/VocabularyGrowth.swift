import LifelongEngine

extension DecoderLM {
    /// Adds `count` rows to the token embedding (and to the output head when it is not tied), as
    /// LAMOL does for its ANS / EOS / task tokens. Each new row is drawn from N(μ, diag(σ²)), μ and
    /// σ the mean and spread of the existing rows per dimension — Hugging Face's resize does the
    /// same with the full covariance. A new row so gets a typical norm and its own direction. (The
    /// bare mean row would lie along the direction every row shares, so raising its logit raises
    /// those of many unrelated tokens too: measured on SmolLM2, the model then never learnt to emit
    /// LAMOL's ANS token.)
    ///
    /// Returns the new ids. Parameters are replaced, so create the optimizer after growing.
    @discardableResult
    public func addTokens(_ count: Int, seed: UInt64) -> Range<Int> {
        precondition(count >= 0, "addTokens: negative count")
        let old = config.vocabSize
        guard count > 0 else { return old..<old }
        var rng = SeededGenerator(seed: seed)
        tokenEmbedding.replaceWeight(grownRows(tokenEmbedding.weight, by: count, rng: &rng))
        if let head = lmHead {
            lmHead = Linear(weight: grownRows(head.weight, by: count, rng: &rng), bias: nil, layout: .outIn)
        }
        config.vocabSize += count
        return old..<(old + count)
    }
}

/// `weight` [rows, dim] with `count` rows appended, each drawn from N(row mean, diag(row variance)).
private func grownRows(_ weight: Tensor, by count: Int, rng: inout SeededGenerator) -> Tensor {
    let rows = weight.shape[0], dim = weight.shape[1]
    let grown = Tensor(zeros: [rows + count, dim], requiresGrad: weight.requiresGrad)
    let src = weight.data.baseAddress!, dst = grown.data.baseAddress!
    dst.update(from: src, count: rows * dim)
    var mean = [Double](repeating: 0, count: dim), variance = [Double](repeating: 0, count: dim)
    for r in 0..<rows { for j in 0..<dim { mean[j] += Double(src[r * dim + j]) / Double(rows) } }
    for r in 0..<rows { for j in 0..<dim { let d = Double(src[r * dim + j]) - mean[j]; variance[j] += d * d / Double(rows) } }
    for r in rows..<(rows + count) {
        for j in 0..<dim { dst[r * dim + j] = Float(mean[j] + Double(rng.nextGaussian()) * variance[j].squareRoot()) }
    }
    return grown
}
