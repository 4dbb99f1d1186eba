import LifelongEngine
import LifelongModels

/// Elastic weight consolidation (Kirkpatrick et al., 2017) as LAMOL's baseline: QA loss on the
/// current task plus λ · Σ_i ω_i (θ_i − θ*_i)², where θ* are the parameters at the end of the
/// **previous** task and ω the importance accumulated over the tasks so far — here the diagonal
/// empirical Fisher, the mean squared gradient of the QA loss over (up to `fisherExamples` of) the
/// finished task's training batches. Rows added to the vocabulary later carry no penalty.
public struct EWC: LifelongMethod {
    public let name = "ewc"
    public var learnsCorpora: Bool { true }
    /// λ.
    public var strength: Float
    public var fisherExamples: Int
    var anchor: [String: [Float]] = [:]
    var importance: [String: [Float]] = [:]

    public init(strength: Float = 5000, fisherExamples: Int = 256) {
        self.strength = strength; self.fisherExamples = fisherExamples
    }

    public mutating func planStage(_ context: StageContext) throws -> StagePlan {
        StagePlan(items: context.resumedItems ?? context.task.train.map { context.item($0, gen: nil) })
    }

    /// λ · Σ_i ω_i (θ_i − θ*_i)² over the anchored parameters that train.
    public func penalty(_ model: DecoderLM) -> LossTerm? {
        guard !anchor.isEmpty else { return nil }
        let entries = model.namedParameters.compactMap { name, p -> (Tensor, [Float], [Float])? in
            guard p.requiresGrad, let theta = anchor[name], let omega = importance[name] else { return nil }
            return (p, theta, omega)
        }
        return entries.isEmpty ? nil : LossTerm("penalty", quadraticPenalty(entries, strength: strength))
    }

    public func savedState() -> MethodState {
        MethodState(tensors: anchor.keys.sorted().flatMap { name in
            [("anchor.\(name)", anchor[name]!), ("importance.\(name)", importance[name] ?? [])]
        })
    }

    public mutating func restore(_ state: MethodState) throws {
        for (name, values) in state.tensors {
            if name.hasPrefix("anchor.") { anchor[String(name.dropFirst(7))] = values }
            if name.hasPrefix("importance.") { importance[String(name.dropFirst(11))] = values }
        }
    }

    /// After a task: adds its Fisher information to ω and anchors θ* at the current weights.
    public mutating func finishStage(_ context: StageContext) throws {
        let items = context.task.train.prefix(fisherExamples).map { context.item($0, gen: nil) }
        let trainer = SequenceTrainer(settings: context.settings, padToken: context.tokenizer.endOfExampleToken())
        let batches = trainer.packBatches(Array(items))
        let parameters = context.model.namedParameters.filter { $0.tensor.requiresGrad }
        var fisher = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, [Float](repeating: 0, count: $0.tensor.count)) })
        for batch in batches {
            for (_, p) in parameters { p.zeroGrad() }
            trainer.loss(context.model, batch.map(\.qa)).backward()
            for (name, p) in parameters {
                guard let g = p.grad else { continue }
                for i in 0..<p.count { fisher[name]![i] += g.pointer[i] * g.pointer[i] / Float(batches.count) }
            }
        }
        for (name, p) in parameters {
            p.zeroGrad()
            let previous = importance[name] ?? []
            importance[name] = fisher[name]!.enumerated().map { $1 + ($0 < previous.count ? previous[$0] : 0) }
            anchor[name] = p.scalars
        }
    }
}

extension EWC {
    public struct Config: MethodConfig {
        public var name = "ewc"
        public var strength: Float = 5000
        public var fisherExamples = 256

        enum CodingKeys: String, CodingKey { case name, strength = "ewc_lambda", fisherExamples = "fisher_examples" }

        public init(name: String, section: ConfigSection) throws {
            strength = try section.float("ewc_lambda", in: 0...1e12) ?? strength
            fisherExamples = try section.int("fisher_examples", in: 1...1_000_000) ?? fisherExamples
        }
        public func makeMethod() -> any LifelongMethod { EWC(strength: strength, fisherExamples: fisherExamples) }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name); try c.encode(yamlNumber(strength), forKey: .strength)
            try c.encode(fisherExamples, forKey: .fisherExamples)
        }
    }
}
