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
/// kept by `rowMask` (PyTorch: `kl_div(log_softmax(s/T), softmax(t/T), reduction="batchmean") · T²`).
///
/// `student` and `teacher` are [N, V]. The teacher is a fixed target: it gets no gradient.
/// Backward: dstudentᵢ = T · (softmax(sᵢ/T) − softmax(tᵢ/T)) / N_kept.
public func klDivergence(student: Tensor, teacher: Tensor, temperature: Float, rowMask: [Bool]? = nil) -> Tensor {
    precondition(student.shape == teacher.shape, "klDivergence: student \(student.shape) ≠ teacher \(teacher.shape)")
    let vocab = student.lastDim, rows = student.rowCount
    precondition(rowMask == nil || rowMask!.count == rows, "klDivergence: mask needs \(rows) entries")
    let sp = student.data.baseAddress!, tp = teacher.data.baseAddress!
    let invT = 1 / temperature
    var rowKL = [Double](repeating: 0, count: rows)
    rowKL.withUnsafeMutableBufferPointer { klp in
        Parallel.forEach(rows, costPerItem: vocab * 8) { r in
            guard rowMask?[r] ?? true else { return }
            let (s, t) = (sp + r * vocab, tp + r * vocab)
            let lseS = scaledLogPartition(s, count: vocab, scale: invT)
            let lseT = scaledLogPartition(t, count: vocab, scale: invT)
            var kl: Double = 0
            for j in 0..<vocab {
                let logPT = t[j] * invT - lseT, logPS = s[j] * invT - lseS
                kl += Double(exp(logPT) * (logPT - logPS))
            }
            klp[r] = kl
        }
    }
    let kept = rowMask?.filter { $0 }.count ?? rows
    let norm = kept > 0 ? 1 / Float(kept) : 0
    let out = Tensor([Float(rowKL.reduce(0, +)) * temperature * temperature * norm], shape: [])
    out.recordBackward([student]) { dy in
        guard let dx = student.gradPointer() else { return }
        let tp = teacher.data.baseAddress!  // the closure keeps the teacher alive, not just its pointer
        let g = dy[0] * temperature * norm
        Parallel.forEach(rows, costPerItem: vocab * 6) { r in
            guard rowMask?[r] ?? true else { return }
            let (s, t, d) = (sp + r * vocab, tp + r * vocab, dx + r * vocab)
            let lseS = scaledLogPartition(s, count: vocab, scale: invT)
            let lseT = scaledLogPartition(t, count: vocab, scale: invT)
            for j in 0..<vocab { d[j] += g * (exp(s[j] * invT - lseS) - exp(t[j] * invT - lseT)) }
        }
    }
    return out
}

/// log Σ_j exp(scale · x_j), stably.
@inline(__always)
private func scaledLogPartition(_ x: UnsafePointer<Float>, count: Int, scale: Float) -> Float {
    var maxValue = -Float.infinity
    for j in 0..<count { maxValue = max(maxValue, x[j] * scale) }
    var sum: Float = 0
    for j in 0..<count { sum += exp(x[j] * scale - maxValue) }
    return maxValue + log(sum)
}
