import Foundation

/// Mean cross-entropy of `logits` [N, V] against `targets` [N], fused with a stable log-softmax.
///
/// Targets equal to `ignoreIndex` contribute nothing. With `weights` (one per target) the loss is
/// Σ wᵢ·ℓᵢ / Σ wᵢ over the kept targets, which equals PyTorch's `cross_entropy(weight=class_weights)`
/// when wᵢ = class_weights[targetᵢ] (LAMOL's 5× weight on the ANS token). With no kept target the
/// loss is 0 (PyTorch returns NaN).
/// Backward: dlogitsᵢ = (softmax(logitsᵢ) − onehot(targetᵢ)) · wᵢ / Σ w. When a gradient will be
/// needed, the forward keeps e^(logits − max) ([N, V], the size of the logits) and the backward
/// turns that buffer into the logits' gradient in place, so neither pass computes exponentials
/// twice and no separate gradient buffer is allocated and cleared.
public func crossEntropy(_ logits: Tensor, targets: [Int], weights: [Float]? = nil, ignoreIndex: Int = -100) -> Tensor {
    let vocab = logits.lastDim, rows = logits.rowCount
    precondition(targets.count == rows, "crossEntropy: \(targets.count) targets for \(rows) rows")
    precondition(weights == nil || weights!.count == rows, "crossEntropy: \(weights!.count) weights for \(rows) rows")
    for t in targets where t != ignoreIndex {
        precondition(t >= 0 && t < vocab, "crossEntropy: target \(t) outside 0..<\(vocab)")
    }
    let xp = logits.data.baseAddress!
    let keepsExponentials = GradMode.isEnabled && logits.requiresGrad
    let exponentials = keepsExponentials ? TensorStorage(uninitialized: rows * vocab) : nil
    var expSums = [Float](repeating: 1, count: rows)
    var rowLoss = [Float](repeating: 0, count: rows)
    expSums.withUnsafeMutableBufferPointer { sums in
        rowLoss.withUnsafeMutableBufferPointer { lossp in
            Parallel.forEach(rows, costPerItem: vocab * 4) { r in
                guard targets[r] != ignoreIndex else { return }
                let row = xp + r * vocab
                let maxValue = VectorMath.maximum(row, count: vocab)
                sums[r] = VectorMath.exponentials(row, minus: maxValue, into: exponentials.map { $0.pointer + r * vocab },
                                                  count: vocab)
                lossp[r] = maxValue + log(sums[r]) - row[targets[r]]
            }
        }
    }
    var totalWeight: Double = 0, total: Double = 0
    for r in 0..<rows where targets[r] != ignoreIndex {
        let w = Double(weights?[r] ?? 1)
        totalWeight += w; total += w * Double(rowLoss[r])
    }
    let out = Tensor([totalWeight > 0 ? Float(total / totalWeight) : 0], shape: [])
    let norm = totalWeight > 0 ? Float(1 / totalWeight) : 0
    out.recordBackward([logits]) { dy in
        guard logits.requiresGrad, let exponentials else { return }
        // First gradient of the logits: the exponentials buffer becomes it. Otherwise add to it.
        let fresh = logits.grad == nil
        if fresh { logits.grad = exponentials }
        let dx = logits.grad!.pointer, e = exponentials.pointer
        let g = dy[0] * norm
        Parallel.forEach(rows, costPerItem: vocab * 2) { r in
            let d = dx + r * vocab, er = e + r * vocab
            guard targets[r] != ignoreIndex else {
                if fresh { d.update(repeating: 0, count: vocab) }
                return
            }
            let coefficient = g * (weights?[r] ?? 1), scale = coefficient / expSums[r]
            if fresh {
                for j in 0..<vocab { d[j] = er[j] * scale }
            } else {
                VectorMath.addScaled(er, scale: scale, into: d, count: vocab)
            }
            d[targets[r]] -= coefficient
        }
    }
    return out
}

/// Distillation loss T² · KL(softmax(teacher/T) ‖ softmax(student/T)), averaged over the rows
/// (PyTorch: `kl_div(log_softmax(s/T), softmax(t/T), reduction="batchmean") · T²`).
///
/// `student` and `teacher` are [N, V]. The teacher is a fixed target: it gets no gradient. Rows
/// with `rowMask` false are left out; with `weights`, the mean is Σ wᵢ·KLᵢ / Σ wᵢ (rows of weight
/// 0 left out), as `crossEntropy` weights its targets. Per row, with p = softmax(t/T) and
/// q = softmax(s/T): KL = Σ_j p_j (t_j − s_j)/T − lse(t/T) + lse(s/T).
/// Backward: dstudentᵢ = T · wᵢ/Σw · (qᵢ − pᵢ). When a gradient will be needed the forward keeps
/// q − p ([N, V]), so the backward is one scaled addition per row.
public func klDivergence(student: Tensor, teacher: Tensor, temperature: Float, rowMask: [Bool]? = nil,
                         weights: [Float]? = nil) -> Tensor {
    precondition(student.shape == teacher.shape, "klDivergence: student \(student.shape) ≠ teacher \(teacher.shape)")
    let vocab = student.lastDim, rows = student.rowCount
    precondition(rowMask == nil || rowMask!.count == rows, "klDivergence: mask needs \(rows) entries")
    precondition(weights == nil || weights!.count == rows, "klDivergence: weights need \(rows) entries")
    let rowWeight = (0..<rows).map { r in (rowMask?[r] ?? true) ? (weights?[r] ?? 1) : 0 }
    let sp = student.data.baseAddress!, tp = teacher.data.baseAddress!
    let invT = 1 / temperature
    let difference = GradMode.isEnabled && student.requiresGrad ? TensorStorage(uninitialized: rows * vocab) : nil
    var rowKL = [Double](repeating: 0, count: rows)
    rowKL.withUnsafeMutableBufferPointer { klp in
        Parallel.forEach(rows, costPerItem: vocab * 12) { r in
            guard rowWeight[r] > 0 else { return }
            let (s, t) = (sp + r * vocab, tp + r * vocab)
            let q = difference.map { $0.pointer + r * vocab } ?? .allocate(capacity: vocab)
            let p = UnsafeMutablePointer<Float>.allocate(capacity: vocab)
            defer { p.deallocate(); if difference == nil { q.deallocate() } }
            let (sumQ, lseS) = scaledExponentials(s, scale: invT, into: q, count: vocab)
            let (sumP, lseT) = scaledExponentials(t, scale: invT, into: p, count: vocab)
            let crossTerm = (VectorMath.dot(p, t, count: vocab) - VectorMath.dot(p, s, count: vocab)) / sumP * invT
            klp[r] = Double(crossTerm - lseT + lseS)
            guard difference != nil else { return }
            let (invQ, invP) = (1 / sumQ, 1 / sumP)
            for j in 0..<vocab { q[j] = q[j] * invQ - p[j] * invP }
        }
    }
    let totalWeight = rowWeight.reduce(0) { $0 + Double($1) }
    let norm = totalWeight > 0 ? Float(1 / totalWeight) : 0
    var weighted: Double = 0
    for r in 0..<rows where rowWeight[r] > 0 { weighted += Double(rowWeight[r]) * rowKL[r] }
    let out = Tensor([Float(weighted) * temperature * temperature * norm], shape: [])
    out.recordBackward([student]) { dy in
        guard let dx = student.gradPointer(), let difference else { return }
        let g = dy[0] * temperature * norm
        Parallel.forEach(rows, costPerItem: vocab * 2) { r in
            guard rowWeight[r] > 0 else { return }
            VectorMath.addScaled(difference.pointer + r * vocab, scale: g * rowWeight[r], into: dx + r * vocab, count: vocab)
        }
    }
    return out
}

/// e_j = exp(scale·x_j − m) into `e`, m = max_j scale·x_j. Returns Σ e_j and log Σ_j exp(scale·x_j).
@inline(__always)
private func scaledExponentials(_ x: UnsafePointer<Float>, scale: Float, into e: UnsafeMutablePointer<Float>,
                                count: Int) -> (sum: Float, logPartition: Float) {
    for j in 0..<count { e[j] = x[j] * scale }
    let maxValue = VectorMath.maximum(e, count: count)
    let sum = VectorMath.exponentials(e, minus: maxValue, into: e, count: count)
    return (sum, maxValue + log(sum))
}
