import Foundation
import LifelongEngine

/// How the next token is chosen from the logits.
public enum SamplingStrategy: Equatable, Sendable {
    /// The most likely token (the first one on ties, as `torch.argmax`).
    case greedy
    /// A random draw from softmax(logits / temperature), restricted to the `topK` most likely
    /// tokens and then to the smallest set whose probability reaches `topP` (nil: no restriction).
    case sample(temperature: Float = 1, topK: Int? = nil, topP: Float? = nil)
}

public struct GenerationOptions: Sendable {
    public var maxNewTokens: Int
    public var strategy: SamplingStrategy
    /// Generation of a sequence ends at any of these tokens (which is not returned).
    public var stopTokens: Set<Int>
    public var seed: UInt64
    /// Tokens that cannot be chosen before token `until` has been generated (e.g. no end of
    /// example before LAMOL's answer token).
    public var suppressed: (tokens: Set<Int>, until: Int)?
    /// Called once the prompts have been read (the prefill), before the first new token is
    /// chosen: the command line times prompt reading and generation apart with it.
    public var afterPrefill: (@Sendable () -> Void)?

    public init(maxNewTokens: Int, strategy: SamplingStrategy = .greedy, stopTokens: Set<Int> = [], seed: UInt64 = 0,
                suppressed: (tokens: Set<Int>, until: Int)? = nil) {
        self.maxNewTokens = maxNewTokens; self.strategy = strategy; self.stopTokens = stopTokens; self.seed = seed
        self.suppressed = suppressed
    }
}

/// The model produced NaN or infinite logits (weights gone bad, or an overflow): no token can be
/// sampled from them, and printing one anyway would be a silent wrong answer.
public struct NonFiniteLogits: Error, CustomStringConvertible {
    public let step: Int, sequence: Int
    /// The model file, when the caller knows it (an overflow in finite weights points to the file).
    public var model: String? = nil
    public var description: String {
        (model.map { "\($0): " } ?? "")
            + "the model's logits are NaN or infinite (new token \(step + 1) of sequence \(sequence + 1)): refusing to sample from them"
    }
}

extension DecoderLM {
    /// Continues every prompt, all in one batch, and returns the new tokens of each.
    ///
    /// Prompts of different lengths are left-padded to a common length with the padding masked
    /// out, and each sequence's positions count its real tokens only, so a prompt's continuation
    /// does not depend on the other prompts in the batch. The prompts are read in one forward pass
    /// (prefill); then every step feeds one token per sequence through the KV cache. Randomness
    /// comes from one generator seeded with `options.seed`, drawn sequence by sequence.
    /// `conditioning` is per sequence (SLM's mixture: one row per prompt) and holds for every step.
    public func generate(prompts: [[Int]], options: GenerationOptions, conditioning: Conditioning = .none) throws -> [[Int]] {
        precondition(!prompts.isEmpty && prompts.allSatisfy { !$0.isEmpty }, "generate: every prompt needs at least one token")
        let batchSize = prompts.count, promptLength = prompts.map(\.count).max()!
        let capacity = promptLength + options.maxNewTokens
        precondition(!config.hasLearnedPositions || capacity <= config.maxPositions,
                     "generate: \(capacity) positions exceed the model's \(config.maxPositions)")
        var rng = SeededGenerator(seed: options.seed)
        let cache = KVCache(config: config, batchSize: batchSize, capacity: capacity)

        // Prefill: left-padded prompts; padding gets position 0 and is masked.
        var ids = [Int](), mask = [Bool](), positions = [Int]()
        for prompt in prompts {
            let padding = promptLength - prompt.count
            ids += [Int](repeating: prompt[0], count: padding) + prompt
            mask += [Bool](repeating: false, count: padding) + [Bool](repeating: true, count: prompt.count)
            positions += [Int](repeating: 0, count: padding) + Array(0..<prompt.count)
        }
        var nextPosition = prompts.map(\.count)
        var outputs = [[Int]](repeating: [], count: batchSize)
        var finished = [Bool](repeating: false, count: batchSize)
        var suppressing = [Bool](repeating: options.suppressed != nil, count: batchSize)

        try noGrad {
            var batch = TokenBatch(ids: ids, batchSize: batchSize, length: promptLength, mask: mask, positions: positions)
            for step in 0..<options.maxNewTokens {
                let pass = ForwardPass(batch, conditioning: conditioning, cache: cache)
                let logits = lastPositionLogits(hiddenStates(batch, pass))
                if step == 0 { options.afterPrefill?() }
                var next = [Int](repeating: 0, count: batchSize)
                for b in 0..<batchSize where !finished[b] {
                    let row = UnsafeMutableBufferPointer(start: logits.data.baseAddress! + b * config.vocabSize, count: config.vocabSize)
                    guard row.allSatisfy(\.isFinite) else { throw NonFiniteLogits(step: step, sequence: b) }
                    if suppressing[b], let suppressed = options.suppressed {
                        for token in suppressed.tokens where token < row.count { row[token] = -.infinity }
                    }
                    next[b] = sampleToken(UnsafeBufferPointer(row), options.strategy, rng: &rng)
                    if next[b] == options.suppressed?.until { suppressing[b] = false }
                    if options.stopTokens.contains(next[b]) { finished[b] = true } else { outputs[b].append(next[b]) }
                }
                if finished.allSatisfy({ $0 }) { break }
                batch = TokenBatch(ids: next, batchSize: batchSize, length: 1, positions: nextPosition)
                for b in 0..<batchSize { nextPosition[b] += 1 }
            }
        }
        return outputs
    }

    /// Logits of the last position of each sequence, [B, vocab]: the head (the largest matrix
    /// product of a step) runs on B rows instead of B·T.
    func lastPositionLogits(_ hidden: Tensor) -> Tensor {
        let (batch, length, width) = (hidden.shape[0], hidden.shape[1], hidden.shape[2])
        let last = Tensor(zeros: [batch, width])
        for b in 0..<batch {
            (last.data.baseAddress! + b * width).update(from: hidden.data.baseAddress! + ((b + 1) * length - 1) * width, count: width)
        }
        return outputLogits(last)
    }
}

/// Picks a token from one row of logits according to `strategy`.
public func sampleToken(_ logits: UnsafeBufferPointer<Float>, _ strategy: SamplingStrategy, rng: inout SeededGenerator) -> Int {
    switch strategy {
    case .greedy:
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        return best
    case let .sample(temperature, topK, topP):
        precondition(temperature > 0, "temperature must be positive (use .greedy for argmax)")
        // Candidates by decreasing logit. Top-k keeps ties with the k-th value, as Hugging Face
        // does, and is found without sorting the whole vocabulary.
        var order: [Int]
        if let topK, topK > 0, topK < logits.count {
            let threshold = kthLargest(logits, topK)
            order = logits.indices.filter { logits[$0] >= threshold }
        } else {
            order = Array(logits.indices)
        }
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        let maxLogit = logits[order[0]]
        var probabilities = order.map { Double(exp((logits[$0] - maxLogit) / temperature)) }
        let total = probabilities.reduce(0, +)
        probabilities = probabilities.map { $0 / total }
        if let topP, topP < 1 {
            var cumulative = 0.0, keep = 0
            while keep < probabilities.count { cumulative += probabilities[keep]; keep += 1; if cumulative >= Double(topP) { break } }
            order = Array(order.prefix(keep)); probabilities = Array(probabilities.prefix(keep))
        }
        let draw = Double(rng.nextFloat()) * probabilities.reduce(0, +)
        var cumulative = 0.0
        for (i, p) in probabilities.enumerated() {
            cumulative += p
            if draw < cumulative { return order[i] }
        }
        return order[order.count - 1]
    }
}

/// The k-th largest value, keeping the k largest seen so far in a small sorted buffer.
private func kthLargest(_ values: UnsafeBufferPointer<Float>, _ k: Int) -> Float {
    var best = [Float](repeating: -.infinity, count: k)  // descending
    for v in values where v > best[k - 1] {
        var i = k - 1
        while i > 0 && best[i - 1] < v { best[i] = best[i - 1]; i -= 1 }
        best[i] = v
    }
    return best[k - 1]
}
