import Foundation
import LifelongModels

/// A way of learning a stream of tasks. The runner calls `items` when task `index` starts, with
/// the model as it stands after the previous task; the method returns what to train on.
public protocol LifelongMethod {
    var name: String { get }
    /// Multitask trains once on the union of all tasks instead of task after task.
    var trainsOnUnion: Bool { get }
    mutating func items(forTask index: Int, of stream: [TaskData], context: MethodContext) -> [TrainingItem]
    /// Called after each backward pass: a regulariser adds its gradient and returns its value.
    func regularize(_ model: DecoderLM) -> Float
    /// Called when task `index` has been trained (before evaluation).
    mutating func finishTask(_ index: Int, of stream: [TaskData], context: MethodContext)
    /// What the method carries from task to task, for checkpoints.
    func savedState() -> MethodState
    mutating func restore(_ state: MethodState) throws
}

extension LifelongMethod {
    public var trainsOnUnion: Bool { false }
    public func regularize(_ model: DecoderLM) -> Float { 0 }
    public mutating func finishTask(_ index: Int, of stream: [TaskData], context: MethodContext) {}
    public func savedState() -> MethodState { MethodState() }
    public mutating func restore(_ state: MethodState) throws {}
}

/// What a method may use: the model, the tokenizer with the special tokens, the settings, a seed,
/// and a place to write its pseudo-samples.
public struct MethodContext {
    public let model: DecoderLM
    public let tokenizer: TaskTokenizer
    public let settings: TrainingSettings
    public let seed: UInt64
    /// `samples/` of the run directory, if the run writes one.
    public let samplesDirectory: String?
    /// Progress of long preparations (pseudo-sample generation).
    public var report: (RunEvent) -> Void = { _ in }

    public init(model: DecoderLM, tokenizer: TaskTokenizer, settings: TrainingSettings, seed: UInt64, samplesDirectory: String?) {
        self.model = model; self.tokenizer = tokenizer; self.settings = settings; self.seed = seed
        self.samplesDirectory = samplesDirectory
    }

    /// `samples/<task>.jsonl`, where the pseudo-samples made while learning `task` go.
    func samplesFile(for task: String) -> String? {
        samplesDirectory.map { ($0 as NSString).appendingPathComponent("\(task).jsonl") }
    }

    /// c q of an example, cut to leave room for the answer within `settings.maxLength`.
    func contextQuestion(_ example: Example, answer: [Int]) -> [Int] {
        contextQuestionTokens(example, tokenizer: tokenizer, maxLength: max(1, settings.maxLength - answer.count - 3))
    }

    /// The QA sequence of a real example (first gold answer), and its LM sequence prompted by `gen`.
    func item(_ example: Example, gen: Int?) -> TrainingItem {
        let answer = tokenizer.encode(example.answers[0])
        let cq = contextQuestion(example, answer: answer)
        return item(contextQuestion: cq, answer: answer, gen: gen)
    }

    func item(contextQuestion cq: [Int], answer: [Int], gen: Int?) -> TrainingItem {
        let (ans, eos) = (tokenizer.answer, tokenizer.endOfExample)
        return TrainingItem(
            qa: LAMOLSequences.qa(contextQuestion: cq, answer: answer, ans: ans, eos: eos),
            lm: gen.map { LAMOLSequences.lm(contextQuestion: cq, answer: answer, gen: $0, ans: ans, eos: eos,
                                            answerWeight: settings.answerWeight) })
    }
}

/// Sequential fine-tuning: each task in turn, QA loss only. The lower bound.
public struct Finetune: LifelongMethod {
    public let name = "finetune"
    public init() {}

    public mutating func items(forTask index: Int, of stream: [TaskData], context: MethodContext) -> [TrainingItem] {
        stream[index].train.map { context.item($0, gen: nil) }
    }
}

/// Multitask learning: one stage on the union of every task's training data. The upper bound.
/// With `lmLoss`, the LM loss (prompted by the generic token) is added as in LAMOL.
public struct Multitask: LifelongMethod {
    public let name = "multitask"
    public var lmLoss: Bool
    public var trainsOnUnion: Bool { true }
    public init(lmLoss: Bool = false) { self.lmLoss = lmLoss }

    public mutating func items(forTask index: Int, of stream: [TaskData], context: MethodContext) -> [TrainingItem] {
        stream.flatMap { task in task.train.map { context.item($0, gen: lmLoss ? context.tokenizer.generic : nil) } }
    }
}
