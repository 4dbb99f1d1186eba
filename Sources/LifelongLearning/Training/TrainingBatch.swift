import LifelongEngine
import LifelongModels

/// Where a training item comes from. Methods treat them differently: L2KD distils only on real
/// examples of the current task, and keeps the hard-label loss on pseudo-samples.
public enum ItemOrigin: String, Codable, Sendable {
    /// A real training example of the task being learnt.
    case current
    /// A pseudo-sample the model generated of an earlier task (LAMOL).
    case pseudo
    /// A stored real example of an earlier task (replay).
    case replayed
}

/// One unit of training data: the QA sequence, and the LM sequence for methods that use it.
public struct TrainingItem: Codable, Sendable {
    public var qa: TrainingSequence
    public var lm: TrainingSequence?
    public var origin: ItemOrigin
    /// The index of a real example in its task's training set, for methods that keep data per
    /// example (SLM's query embedding).
    public var example: Int?

    public init(qa: TrainingSequence, lm: TrainingSequence?, origin: ItemOrigin = .current, example: Int? = nil) {
        self.qa = qa; self.lm = lm; self.origin = origin; self.example = example
    }

    enum CodingKeys: String, CodingKey { case qa, lm, origin, example }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        qa = try c.decode(TrainingSequence.self, forKey: .qa)
        lm = try c.decodeIfPresent(TrainingSequence.self, forKey: .lm)
        // Checkpoints written before items had an origin hold only real examples or pseudo-samples
        // whose origin did not change their loss.
        origin = try c.decodeIfPresent(ItemOrigin.self, forKey: .origin) ?? .current
        example = try c.decodeIfPresent(Int.self, forKey: .example)
    }
}

/// Sequences of one batch padded to one length: the model's input, the next-token targets
/// (`LAMOLSequences.ignore` where nothing is predicted, padding included) and per-target weights.
public struct PaddedSequences {
    public let tokens: TokenBatch
    public let targets: [Int]
    public let weights: [Float]
    /// For each row, the index of its item in the batch.
    public let itemIndices: [Int]

    init(_ sequences: [(item: Int, sequence: TrainingSequence)], padToken: Int) {
        let length = sequences.map(\.sequence.tokens.count).max() ?? 0
        var ids: [Int] = [], targets: [Int] = [], weights: [Float] = [], mask: [Bool] = []
        for (_, s) in sequences {
            let pad = length - s.tokens.count
            ids += s.tokens + [Int](repeating: padToken, count: pad)
            targets += s.targets + [Int](repeating: LAMOLSequences.ignore, count: pad)
            weights += s.weights + [Float](repeating: 0, count: pad)
            mask += [Bool](repeating: true, count: s.tokens.count) + [Bool](repeating: false, count: pad)
        }
        tokens = TokenBatch(ids: ids, batchSize: sequences.count, length: length, mask: mask.allSatisfy { $0 } ? nil : mask)
        self.targets = targets; self.weights = weights
        itemIndices = sequences.map(\.item)
    }

    /// Targets of the rows whose item satisfies `keep`; the other rows' targets are ignored.
    public func targets(keepingItems keep: (Int) -> Bool) -> [Int] {
        let length = tokens.length
        var kept = targets
        for (row, item) in itemIndices.enumerated() where !keep(item) {
            for t in (row * length)..<((row + 1) * length) { kept[t] = LAMOLSequences.ignore }
        }
        return kept
    }

    /// Weighted mean cross-entropy of the model's predictions of the targets.
    public func crossEntropyLoss(_ model: DecoderLM, conditioning: Conditioning = .none) -> Tensor {
        crossEntropy(model.logits(tokens, conditioning: conditioning), targets: targets, weights: weights)
    }
}

/// A batch as the objective sees it: its items, the padded QA sequences of every item, and the
/// padded LM sequences of the items that have one.
public struct TrainingBatch {
    public let items: [TrainingItem]
    public let qa: PaddedSequences
    public let lm: PaddedSequences?

    public init(_ items: [TrainingItem], padToken: Int) {
        self.items = items
        qa = PaddedSequences(items.enumerated().map { ($0, $1.qa) }, padToken: padToken)
        let lmSequences = items.enumerated().compactMap { i, item in item.lm.map { (i, $0) } }
        lm = lmSequences.isEmpty ? nil : PaddedSequences(lmSequences, padToken: padToken)
    }

    /// Tokens in the batch (unpadded), for the tokens/s figure.
    public var tokenCount: Int { items.reduce(0) { $0 + $1.qa.tokens.count + ($1.lm?.tokens.count ?? 0) } }
}

/// One named part of a training objective: the step minimises Σ weight · value. Each term's
/// value is logged per step in `log.jsonl` under its name.
public struct LossTerm {
    /// The key in `log.jsonl`: `qa_loss`, `lm_loss`, `kd_qa_loss`, `penalty`, …
    public var name: String
    public var value: Tensor
    public var weight: Float

    public init(_ name: String, _ value: Tensor, weight: Float = 1) {
        self.name = name; self.value = value; self.weight = weight
    }
}

/// LAMOL's objective: L_QA + λ·L_LM (λ = `TrainingSettings.lmWeight`), the hard-label
/// cross-entropy of both sequences. Fine-tuning, multitask, replay and EWC use it too.
public func lamolObjective(_ batch: TrainingBatch, model: DecoderLM, lmWeight: Float) -> [LossTerm] {
    var terms = [LossTerm("qa_loss", batch.qa.crossEntropyLoss(model))]
    if let lm = batch.lm { terms.append(LossTerm("lm_loss", lm.crossEntropyLoss(model), weight: lmWeight)) }
    return terms
}
