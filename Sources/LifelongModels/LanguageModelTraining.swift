import LifelongEngine

extension DecoderLM {
    /// One optimisation step on `batch`: loss, backward, gradient clipping, AdamW update.
    /// Returns the loss before the update.
    @discardableResult
    public func trainStep(on batch: TokenBatch, optimizer: AdamW, maxGradientNorm: Float = 1) -> Float {
        optimizer.zeroGrad()
        let loss = languageModelingLoss(batch)
        loss.backward()
        clipGradientNorm(parameters, maxNorm: maxGradientNorm)
        optimizer.step()
        return loss.item
    }

    /// Greedy continuation of `prompt` by up to `maxNewTokens` tokens, stopping at `stopToken`.
    /// (Recomputes the whole prefix each step; the batched KV-cache generator is the fast path.)
    public func greedyContinuation(of prompt: [Int], maxNewTokens: Int, stopToken: Int? = nil) -> [Int] {
        var tokens = prompt
        noGrad {
            for _ in 0..<maxNewTokens where tokens.count < config.maxPositions {
                let logits = self.logits(TokenBatch(rows: [tokens]))
                let last = logits.data[(tokens.count - 1) * config.vocabSize ..< tokens.count * config.vocabSize]
                let next = last.indices.max { last[$0] < last[$1] }! - (tokens.count - 1) * config.vocabSize
                if next == stopToken { break }
                tokens.append(next)
            }
        }
        return Array(tokens.dropFirst(prompt.count))
    }
}
