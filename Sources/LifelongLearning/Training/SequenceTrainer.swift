import Foundation
import LifelongEngine
import LifelongModels

/// Optimisation settings of one run (LAMOL's defaults unless said otherwise).
public struct TrainingSettings: Codable, Equatable, Sendable {
    public var learningRate: Float = 6.25e-5
    public var weightDecay: Float = 0.01
    public var maxGradientNorm: Float = 1
    public var epochs = 3
    /// Padded tokens per batch (batch size × longest sequence); sequences are packed up to it.
    public var tokensPerBatch = 2048
    /// Fraction of a task's steps spent warming the learning rate up (then linear decay to 0).
    public var warmupFraction: Float = 0.005
    /// λ, the weight of the LM loss next to the QA loss.
    public var lmWeight: Float = 0.25
    /// Weight of the ANS target inside the LM loss (the official LAMOL code uses 5).
    public var answerWeight: Float = 5
    /// Longest training sequence; longer examples are cut from the left of the context.
    public var maxLength = 1024
    /// Batches whose gradients are summed (each loss scaled by 1/n) before one optimiser step.
    public var gradientAccumulation = 1

    public init() {}
}

/// One unit of training data: the QA sequence, and the LM sequence for methods that use it.
public struct TrainingItem: Codable, Sendable {
    public var qa: TrainingSequence
    public var lm: TrainingSequence?
}

/// What a training stage reports per step.
public struct StepLog: Codable, Sendable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    public var task: String
    public var qaLoss: Float
    public var lmLoss: Float?
    public var penalty: Float?
    public var learningRate: Float
    public var tokensPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case step, epoch, task, penalty
        case totalSteps = "total_steps", qaLoss = "qa_loss", lmLoss = "lm_loss", learningRate = "lr", tokensPerSecond = "tokens_per_s"
    }
}

/// Trains a model on a list of items for some epochs: shuffled each epoch (seeded), packed into
/// batches by token budget, loss L = L_QA + λ·L_LM, AdamW with warm-up and linear decay.
public struct SequenceTrainer {
    public var settings: TrainingSettings
    public var padToken: Int

    public init(settings: TrainingSettings, padToken: Int) {
        self.settings = settings; self.padToken = padToken
    }

    /// Trains from optimiser step `startStep` (0, or where an interrupted stage stopped; `prepare`
    /// restores the optimiser's state then). `regularize` runs after each backward pass (EWC adds
    /// its penalty's gradient there). After each step `onStep` gets the log and the optimiser and
    /// returns whether to go on. Returns true when every step was taken.
    @discardableResult
    public func train(_ model: DecoderLM, items: [TrainingItem], taskName: String, seed: UInt64,
                      startStep: Int = 0, prepare: (AdamW) throws -> Void = { _ in },
                      regularize: (DecoderLM) -> Float = { _ in 0 },
                      onStep: (StepLog, AdamW) throws -> Bool = { _, _ in true }) throws -> Bool {
        guard !items.isEmpty else { return true }
        var shuffler = SeededShuffler(seed: seed)
        let epochs = (0..<settings.epochs).map { _ in packBatches(shuffler.shuffled(items)) }
        let accumulation = max(1, settings.gradientAccumulation)
        // One optimiser step per `accumulation` batches (the last group of an epoch may be shorter).
        let steps = epochs.enumerated().flatMap { epoch, batches in batches.chunked(accumulation).map { (epoch, $0) } }
        let schedule = LearningRateSchedule.linear(warmupSteps: Int(Float(steps.count) * settings.warmupFraction), totalSteps: steps.count)
        let optimizer = AdamW(parameters: model.parameters, learningRate: settings.learningRate, weightDecay: settings.weightDecay)
        try prepare(optimizer)
        for step in startStep..<steps.count {
            let (epoch, group) = steps[step]
            let start = Date()
            optimizer.learningRate = settings.learningRate * schedule.multiplier(atStep: step)
            optimizer.zeroGrad()
            var qaSum: Float = 0, lmSum: Float = 0, hasLM = false, tokens = 0
            for batch in group {
                let qaLoss = loss(model, batch.map(\.qa))
                var total = qaLoss
                qaSum += qaLoss.item
                let lmSequences = batch.compactMap(\.lm)
                if !lmSequences.isEmpty {
                    let lmLoss = loss(model, lmSequences)
                    lmSum += lmLoss.item; hasLM = true
                    total = add(qaLoss, scale(lmLoss, settings.lmWeight))
                }
                scale(total, 1 / Float(group.count)).backward()
                tokens += batch.reduce(0) { $0 + $1.qa.tokens.count + ($1.lm?.tokens.count ?? 0) }
            }
            let penalty = regularize(model)
            clipGradientNorm(model.parameters, maxNorm: settings.maxGradientNorm)
            optimizer.step()
            let n = Float(group.count)
            let log = StepLog(step: step, totalSteps: steps.count, epoch: epoch, task: taskName, qaLoss: qaSum / n,
                              lmLoss: hasLM ? lmSum / n : nil, penalty: penalty == 0 ? nil : penalty,
                              learningRate: optimizer.learningRate,
                              tokensPerSecond: Double(tokens) / max(Date().timeIntervalSince(start), 1e-9))
            if try !onStep(log, optimizer) { return step + 1 == steps.count }
        }
        return true
    }

    /// Consecutive items grouped while batch size × longest sequence stays within the budget.
    func packBatches(_ items: [TrainingItem]) -> [[TrainingItem]] {
        var batches: [[TrainingItem]] = [], current: [TrainingItem] = [], longest = 0
        for item in items {
            let length = max(item.qa.tokens.count, item.lm?.tokens.count ?? 0)
            if !current.isEmpty && max(longest, length) * (current.count + 1) > settings.tokensPerBatch {
                batches.append(current); current = []; longest = 0
            }
            current.append(item); longest = max(longest, length)
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }

    /// Weighted mean cross-entropy of a padded batch of sequences.
    func loss(_ model: DecoderLM, _ sequences: [TrainingSequence]) -> Tensor {
        let length = sequences.map(\.tokens.count).max()!
        var ids: [Int] = [], targets: [Int] = [], weights: [Float] = [], mask: [Bool] = []
        for s in sequences {
            let pad = length - s.tokens.count
            ids += s.tokens + [Int](repeating: padToken, count: pad)
            targets += s.targets + [Int](repeating: LAMOLSequences.ignore, count: pad)
            weights += s.weights + [Float](repeating: 0, count: pad)
            mask += [Bool](repeating: true, count: s.tokens.count) + [Bool](repeating: false, count: pad)
        }
        let batch = TokenBatch(ids: ids, batchSize: sequences.count, length: length, mask: mask.allSatisfy { $0 } ? nil : mask)
        return crossEntropy(model.logits(batch), targets: targets, weights: weights)
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
