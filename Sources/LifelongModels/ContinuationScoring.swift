import Foundation
import LifelongEngine

extension DecoderLM {
    /// Σ_i log p(c_i | prompt, c_<i) for every continuation c of one prompt (rank classification:
    /// the continuations are a task's label candidates).
    ///
    /// The prompt is read once into a KV cache, which every continuation then extends in one
    /// batched pass; the vocabulary head runs only where a continuation token is predicted. So a
    /// few-shot query with k labels costs one prompt pass instead of k, and no head over the prompt.
    ///
    /// Continuations are scored in groups whose batched pass fits `batchBytes` (a task with
    /// thousands of distinct answers would otherwise ask for gigabytes at once); a score does not
    /// depend on its group but for rounding.
    public func continuationLogLikelihoods(prompt: [Int], continuations: [[Int]], batchBytes: Int = 512 << 20) -> [Double] {
        precondition(!prompt.isEmpty && !continuations.isEmpty && continuations.allSatisfy { !$0.isEmpty },
                     "continuationLogLikelihoods: the prompt and every continuation need a token")
        let longest = continuations.map(\.count).max()!
        // Per continuation: its logits, its copy of the prompt's KV cache, and a layer's activations.
        let perRow = 4 * (longest * (config.vocabSize + 16 * config.hiddenSize + config.intermediateSize)
                          + 2 * config.layerCount * (prompt.count + longest) * config.kvHeadCount * config.headDim)
        let group = max(1, batchBytes / max(1, perRow))
        guard continuations.count > group else { return scoreContinuations(prompt: prompt, continuations: continuations) }
        return stride(from: 0, to: continuations.count, by: group).flatMap { start in
            scoreContinuations(prompt: prompt, continuations: Array(continuations[start..<min(start + group, continuations.count)]))
        }
    }

    private func scoreContinuations(prompt: [Int], continuations: [[Int]]) -> [Double] {
        let longest = continuations.map(\.count).max()!, vocab = config.vocabSize
        return noGrad {
            let cache = KVCache(config: config, batchSize: 1, capacity: prompt.count + longest)
            let promptBatch = TokenBatch(ids: prompt, batchSize: 1, length: prompt.count)
            let afterPrompt = lastPositionLogits(hiddenStates(promptBatch, ForwardPass(promptBatch, conditioning: .none, cache: cache)))  // predicts c_0
            var totals = continuations.map { logProbability(of: $0[0], row: afterPrompt.data.baseAddress!, vocab: vocab) }
            guard longest > 1 else { return totals }

            // Row j feeds c_0 … c_{n−2} (right-padded); its position i predicts c_{i+1}.
            let fed = longest - 1
            var ids = [Int](), mask = [Bool](), positions = [Int]()
            for c in continuations {
                let real = c.count - 1
                ids += c.dropLast() + [Int](repeating: 0, count: fed - real)
                mask += [Bool](repeating: true, count: real) + [Bool](repeating: false, count: fed - real)
                positions += Array(prompt.count..<(prompt.count + fed))
            }
            let batch = TokenBatch(ids: ids, batchSize: continuations.count, length: fed,
                                   mask: mask.allSatisfy { $0 } ? nil : mask, positions: positions)
            let pass = ForwardPass(batch, conditioning: .none, cache: cache.repeatingFirstSequence(continuations.count))
            let logits = outputLogits(hiddenStates(batch, pass))
            let z = logits.data.baseAddress!
            for (j, c) in continuations.enumerated() {
                for i in 1..<c.count {
                    totals[j] += logProbability(of: c[i], row: z + (j * fed + i - 1) * vocab, vocab: vocab)
                }
            }
            return totals
        }
    }
}

/// log softmax(row)[token], accumulated in Double.
private func logProbability(of token: Int, row: UnsafeMutablePointer<Float>, vocab: Int) -> Double {
    var top = row[0]
    for v in 1..<vocab where row[v] > top { top = row[v] }
    var sum = 0.0
    for v in 0..<vocab { sum += Double(exp(row[v] - top)) }
    return Double(row[token] - top) - log(sum)
}
