import Foundation
import LifelongFormats
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

/// What a training stage reports per step: the value of every loss term (named as the
/// objective names them: `qa_loss`, `lm_loss`, `kd_qa_loss`, `penalty`, …), averaged over the
/// step's batches.
public struct StepLog: Encodable, Sendable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    public var task: String
    public var losses: [(name: String, value: Float)]
    public var learningRate: Float
    public var tokensPerSecond: Double

    public func loss(_ name: String) -> Float? { losses.first { $0.name == name }?.value }
    public var qaLoss: Float { loss("qa_loss") ?? 0 }
    public var lmLoss: Float? { loss("lm_loss") }
    public var penalty: Float? { loss("penalty") }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(step, forKey: Key("step")); try c.encode(totalSteps, forKey: Key("total_steps"))
        try c.encode(epoch, forKey: Key("epoch")); try c.encode(task, forKey: Key("task"))
        for (name, value) in losses { try c.encode(value, forKey: Key(name)) }
        try c.encode(learningRate, forKey: Key("lr")); try c.encode(tokensPerSecond, forKey: Key("tokens_per_s"))
    }
}

/// Trains a model on a list of items for some epochs: shuffled each epoch (seeded), packed into
/// batches by token budget, AdamW over the parameters that require a gradient, with warm-up and
/// linear decay. The loss is the method's objective (LAMOL's L_QA + λ·L_LM by default).
public struct SequenceTrainer {
    public var settings: TrainingSettings
    public var padToken: Int

    public init(settings: TrainingSettings, padToken: Int) {
        self.settings = settings; self.padToken = padToken
    }

    /// Trains from optimiser step `startStep` (0, or where an interrupted stage stopped; `prepare`
    /// restores the optimiser's state then). Per batch, `objective` returns the loss terms;
    /// `penalty` (terms of the weights alone, such as EWC's) is added once per optimiser step.
    /// After each step `onStep` gets the log and the optimiser and returns whether to go on.
    /// Returns true when every step was taken.
    @discardableResult
    public func train(_ model: DecoderLM, items: [TrainingItem], taskName: String, seed: UInt64,
                      trainable: [Tensor]? = nil, startStep: Int = 0, prepare: (AdamW) throws -> Void = { _ in },
                      objective: ((TrainingBatch) -> [LossTerm])? = nil,
                      penalty: () -> LossTerm? = { nil },
                      onStep: (StepLog, AdamW) throws -> Bool = { _, _ in true }) throws -> Bool {
        guard !items.isEmpty else { return true }
        let lmWeight = settings.lmWeight
        let objective = objective ?? { lamolObjective($0, model: model, lmWeight: lmWeight) }
        let steps = plannedSteps(items: items, seed: seed)
        let schedule = LearningRateSchedule.linear(warmupSteps: Int(Float(steps.count) * settings.warmupFraction), totalSteps: steps.count)
        guard (0...steps.count).contains(startStep) else {
            throw FormatError(file: "checkpoint state.json", "field 'steps_done' resumes '\(taskName)' at step \(startStep), but the stage has \(steps.count) steps: the checkpoint does not belong to this run's config")
        }
        // The trainable set (all parameters by default) is the optimiser's; the rest of the model
        // gets no gradient while the stage trains.
        let (parameters, frozen) = model.parameters(splitBy: trainable)
        let optimizer = AdamW(parameters: parameters, learningRate: settings.learningRate, weightDecay: settings.weightDecay)
        let updated = optimizer.groups.flatMap(\.parameters)
        // Gradients left by an earlier stage's last step on parameters frozen now would count in
        // the clipping norm of this stage (and not in a run resumed here, whose model is fresh).
        for p in model.parameters { p.zeroGrad() }
        try prepare(optimizer)
        return try GradMode.freezing(frozen) {
            try trainSteps(steps, from: startStep, optimizer: optimizer, updated: updated, schedule: schedule, taskName: taskName,
                           objective: objective, penalty: penalty, onStep: onStep)
        }
    }

    private func trainSteps(_ steps: [(epoch: Int, batches: [[TrainingItem]])], from startStep: Int, optimizer: AdamW, updated: [Tensor],
                            schedule: LearningRateSchedule, taskName: String, objective: (TrainingBatch) -> [LossTerm],
                            penalty: () -> LossTerm?, onStep: (StepLog, AdamW) throws -> Bool) throws -> Bool {
        for step in startStep..<steps.count {
            let (epoch, group) = steps[step]
            let start = Date()
            optimizer.learningRate = settings.learningRate * schedule.multiplier(atStep: step)
            optimizer.zeroGrad()
            var sums = LossSums(), tokens = 0
            for items in group {
                let batch = TrainingBatch(items, padToken: padToken)
                let terms = objective(batch)
                sums.add(terms, scale: 1 / Float(group.count))
                scale(weightedSum(terms), 1 / Float(group.count)).backward()
                tokens += batch.tokenCount
            }
            if let term = penalty() {
                sums.add([term], scale: 1)
                weightedSum([term]).backward()
            }
            // A diverged step (a learning rate too high, a bad λ) must not reach the weights: the run
            // stops with the step's numbers and its last checkpoint stays the last good state.
            let norm = clipGradientNorm(updated, maxNorm: settings.maxGradientNorm)
            if let bad = sums.values.first(where: { !$0.value.isFinite }) {
                throw TrainingDiverged(task: taskName, step: step, what: bad.name, value: bad.value)
            }
            if !norm.isFinite { throw TrainingDiverged(task: taskName, step: step, what: "gradient norm", value: norm) }
            optimizer.step()
            let log = StepLog(step: step, totalSteps: steps.count, epoch: epoch, task: taskName, losses: sums.values,
                              learningRate: optimizer.learningRate,
                              tokensPerSecond: Double(tokens) / max(Date().timeIntervalSince(start), 1e-9))
            if try !onStep(log, optimizer) { return step + 1 == steps.count }
        }
        return true
    }

    /// Σ weight · value, built as L₁ + w₂·L₂ + … (a weight of 1 adds the term as it is).
    private func weightedSum(_ terms: [LossTerm]) -> Tensor {
        let weighted = terms.map { $0.weight == 1 ? $0.value : scale($0.value, $0.weight) }
        return weighted.dropFirst().reduce(weighted[0]) { add($0, $1) }
    }

    /// Consecutive items grouped while batch size × longest sequence stays within the budget.
    /// Every optimiser step of a stage: its epoch and its batches. One step per
    /// `gradientAccumulation` batches (the last group of an epoch may be shorter).
    func plannedSteps(items: [TrainingItem], seed: UInt64) -> [(epoch: Int, batches: [[TrainingItem]])] {
        var shuffler = SeededShuffler(seed: seed)
        let epochs = (0..<settings.epochs).map { _ in packBatches(shuffler.shuffled(items)) }
        let accumulation = max(1, settings.gradientAccumulation)
        return epochs.enumerated().flatMap { epoch, batches in batches.chunked(accumulation).map { (epoch, $0) } }
    }

    /// How many optimiser steps `train` takes over `items` with `seed`.
    public func stepCount(items: [TrainingItem], seed: UInt64) -> Int {
        items.isEmpty ? 0 : plannedSteps(items: items, seed: seed).count
    }

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
        PaddedSequences(sequences.enumerated().map { ($0, $1) }, padToken: padToken).crossEntropyLoss(model)
    }
}

/// Thrown when a step's loss or gradient is not finite; the weights were not updated.
public struct TrainingDiverged: Error, CustomStringConvertible {
    public let task: String, step: Int, what: String, value: Float
    public var description: String {
        "training diverged on \(task) at step \(step + 1): \(what) is \(value); the weights were not updated and the last "
            + "checkpoint is the last good state (lower training.learning_rate or the loss weights, then --resume or --overwrite)"
    }
}

/// Loss values of one step, in the order the objective first named them.
private struct LossSums {
    var values: [(name: String, value: Float)] = []

    mutating func add(_ terms: [LossTerm], scale: Float) {
        for term in terms {
            let value = term.value.item * scale
            if let i = values.firstIndex(where: { $0.name == term.name }) { values[i].value += value } else { values.append((term.name, value)) }
        }
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
