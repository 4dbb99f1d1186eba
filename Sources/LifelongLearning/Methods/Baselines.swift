import LifelongModels

/// Sequential fine-tuning: each task in turn, QA loss only. The lower bound.
public struct Finetune: LifelongMethod {
    public let name = "finetune"
    public var learnsCorpora: Bool { true }
    public init() {}

    public mutating func planStage(_ context: StageContext) throws -> StagePlan {
        StagePlan(items: context.resumedItems ?? context.task.train.map { context.item($0, gen: nil) })
    }
}

/// Multitask learning: one stage on the union of every task's training data. The upper bound.
/// With `lmLoss`, the LM loss (prompted by the generic token) is added as in LAMOL.
public struct Multitask: LifelongMethod {
    public let name = "multitask"
    public var lmLoss: Bool
    public var trainsOnUnion: Bool { true }
    public var learnsCorpora: Bool { true }
    public init(lmLoss: Bool = false) { self.lmLoss = lmLoss }

    public mutating func planStage(_ context: StageContext) throws -> StagePlan {
        StagePlan(items: context.resumedItems ?? context.stream.flatMap { task in
            task.train.map { context.item($0, gen: lmLoss ? context.tokenizer.genericToken() : nil) }
        })
    }
}

extension Finetune {
    public struct Config: MethodConfig {
        public var name = "finetune"
        public init(name: String, section: ConfigSection) throws {}
        public func makeMethod() -> any LifelongMethod { Finetune() }
    }
}

extension Multitask {
    public struct Config: MethodConfig {
        public var name = "multitask"
        /// Add LAMOL's LM loss (prompted by `__gen__`).
        public var lmLoss = false

        enum CodingKeys: String, CodingKey { case name, lmLoss = "lm_loss" }

        public init(name: String, section: ConfigSection) throws {
            lmLoss = try section.bool("lm_loss") ?? lmLoss
        }
        public func makeMethod() -> any LifelongMethod { Multitask(lmLoss: lmLoss) }
    }
}
