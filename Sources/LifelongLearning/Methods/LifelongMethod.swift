import Foundation
import LifelongEngine
import LifelongModels

/// A way of learning a stream of tasks: a strategy with a handful of hooks, which the runner calls
/// in this order for every stage (a task, or multitask's one stage on the union):
///
/// 1. `planStage` — before training: what to train on (each item with its origin), which
///    parameters train, edits to the model, work such as training a teacher;
/// 2. `objective` per batch and `penalty` once per optimiser step — the named loss terms;
/// 3. `finishStage` — after training, before evaluation (EWC's Fisher information);
/// 4. `predictor` — what answers the test questions at evaluation;
/// 5. `savedState` / `restore` — what the method carries between stages, for checkpoints;
///    `statistics` — what it reports in `results.json`.
///
/// Every hook but `planStage` has a default, the LAMOL-style plain one.
public protocol LifelongMethod {
    var name: String { get }
    /// Multitask trains once on the union of all tasks instead of task after task.
    var trainsOnUnion: Bool { get }
    /// The method can learn a stream of text corpora (plain texts, the LM loss): false for
    /// methods built on the QA format (LAMOL's pseudo-samples, L2KD's teachers, SLM's queries).
    var learnsCorpora: Bool { get }
    /// A text whose one base-vocabulary token marks answers instead of a new `__ans__` row
    /// (SLM, which trains no vocabulary row). nil: `__ans__`.
    var answerSeparator: String? { get }
    /// Called when stage `context.index` starts, with the model as the previous stage left it.
    /// `context.resumedItems` holds the items of a stage interrupted mid-way: the method keeps
    /// them (they are not made again) but redoes any other preparation the objective needs.
    mutating func planStage(_ context: StageContext) throws -> StagePlan
    /// The loss terms of one batch. The default is LAMOL's L_QA + λ·L_LM.
    func objective(_ batch: TrainingBatch, model: DecoderLM, settings: TrainingSettings) -> [LossTerm]
    /// Terms of the weights alone, added once per optimiser step (EWC's penalty).
    func penalty(_ model: DecoderLM) -> LossTerm?
    /// Called when the stage has been trained (before evaluation).
    mutating func finishStage(_ context: StageContext) throws
    /// Answers the test prompts (`c q ANS`) of one evaluation of every task of `stream`. The
    /// default decodes with the model.
    func predictor(for model: DecoderLM, stream: [TaskData]) throws -> any AnswerPredictor
    /// What the method carries from stage to stage, for checkpoints: named tensors and JSON.
    func savedState() -> MethodState
    mutating func restore(_ state: MethodState) throws
    /// What the method reports in `results.json`.
    var statistics: MethodStatistics { get }
    /// The folders of the run directory the method keeps files in (`StageContext.artefacts`),
    /// cleared when a run starts afresh.
    static var artefactFolders: [String] { get }
    /// For a PEFT export: the task that owns each low-rank slot of the model, in slot order
    /// (SLM's); empty for a method that adds no slots.
    var slotOwners: [String] { get }
    /// Writes into `folder` what an export's adapters need besides their weights: how an example
    /// picks its slots (SLM: the keys and the retrieval rule).
    func writeSlotRetrieval(into folder: String) throws
    /// Tables of the method's own for the report, from a run's results (its `methodStatistics`):
    /// written into `results.json` and rendered by a report that knows no method.
    static func reportSections(_ results: StreamRunner.Results) -> [ReportSection]
    /// Figures of one evaluation for the report's table of re-evaluations (SLM's retrieval accuracy).
    static func headlineFigures(_ statistics: [String: JSONValue]) -> [(name: String, value: Double)]
}

extension LifelongMethod {
    public var trainsOnUnion: Bool { false }
    public var learnsCorpora: Bool { false }
    public var answerSeparator: String? { nil }
    public func objective(_ batch: TrainingBatch, model: DecoderLM, settings: TrainingSettings) -> [LossTerm] {
        lamolObjective(batch, model: model, lmWeight: settings.lmWeight)
    }
    public func penalty(_ model: DecoderLM) -> LossTerm? { nil }
    public mutating func finishStage(_ context: StageContext) throws {}
    public func predictor(for model: DecoderLM, stream: [TaskData]) throws -> any AnswerPredictor { model }
    public func savedState() -> MethodState { MethodState() }
    public mutating func restore(_ state: MethodState) throws {}
    public var statistics: MethodStatistics { MethodStatistics() }
    public static var artefactFolders: [String] { [] }
    public var slotOwners: [String] { [] }
    public func writeSlotRetrieval(into folder: String) throws {}
    public static func reportSections(_ results: StreamRunner.Results) -> [ReportSection] { [] }
    public static func headlineFigures(_ statistics: [String: JSONValue]) -> [(name: String, value: Double)] { [] }
}

/// What a stage trains.
public struct StagePlan {
    public var items: [TrainingItem]
    /// The parameters that train (nil: all of the model's). The others are frozen for the stage:
    /// no gradient buffers, no optimiser state, bit-identical afterwards.
    public var trainable: [Tensor]?

    public init(items: [TrainingItem], trainable: [Tensor]? = nil) {
        self.items = items; self.trainable = trainable
    }
}

/// What a method reports in `results.json`: LAMOL's pseudo-sample counts, and anything else
/// under `method_statistics` (L2KD's teacher scores).
public struct MethodStatistics {
    public var pseudoSamples: [SampleStatistics] = []
    public var details: [String: JSONValue] = [:]
    public init(pseudoSamples: [SampleStatistics] = [], details: [String: JSONValue] = [:]) {
        self.pseudoSamples = pseudoSamples; self.details = details
    }
}

/// What a method may use in a stage: the stream and the stage's task, the model, the tokenizer
/// with the special tokens, the settings, a seed, and the run's files.
public struct StageContext {
    /// The stage's task in `stream` (0 for multitask's one stage).
    public let index: Int
    public let stream: [TaskData]
    public let model: DecoderLM
    public let tokenizer: TaskTokenizer
    public let settings: TrainingSettings
    public let seed: UInt64
    /// The run directory, if the run writes one.
    public var runDirectory: String? = nil
    /// Items of a stage interrupted mid-way, restored from the checkpoint.
    public var resumedItems: [TrainingItem]? = nil
    /// A fresh copy of the model the run started from (L2KD's teachers start there).
    public var startingModel: (() throws -> DecoderLM)? = nil
    /// Optimiser steps between checkpoints of long preparations (a teacher's training).
    public var checkpointEvery: Int? = nil
    /// Polled by long preparations; true asks them to checkpoint and throw `RunInterrupted`.
    public var shouldStop: () -> Bool = { false }
    /// Progress of long preparations (pseudo-sample generation, a teacher's training).
    public var report: (RunEvent) -> Void = { _ in }
    /// How answers are decoded at evaluation (a teacher's score is measured the same way).
    public var evaluator: AnswerEvaluator? = nil

    public init(index: Int, stream: [TaskData], model: DecoderLM, tokenizer: TaskTokenizer, settings: TrainingSettings, seed: UInt64) {
        self.index = index; self.stream = stream; self.model = model; self.tokenizer = tokenizer
        self.settings = settings; self.seed = seed
    }

    public var task: TaskData { stream[index] }

    /// c q of an example, cut to leave room for the answer within `settings.maxLength`.
    func contextQuestion(_ example: Example, answer: [Int]) -> [Int] {
        contextQuestionTokens(example, tokenizer: tokenizer, maxLength: max(1, settings.maxLength - answer.count - 3))
    }

    /// The QA sequence of a real example (first gold answer, or `answer` when given), and its LM
    /// sequence prompted by `gen`.
    /// A text of a corpus stream is one LM sequence (`LAMOLSequences.text`), cut to `maxLength`.
    public func item(_ example: Example, gen: Int?, origin: ItemOrigin = .current, answer: [Int]? = nil) -> TrainingItem {
        if task.isCorpus {
            return TrainingItem(qa: LAMOLSequences.text(example.context, tokenizer: tokenizer, maxLength: settings.maxLength),
                                lm: nil, origin: origin)
        }
        // An answer that leaves no room for its question within max_length is cut at its end:
        // the sequence must fit the model, and a target cut short still teaches its beginning.
        let answer = Array((answer ?? tokenizer.encode(example.answers[0])).prefix(settings.maxLength / 2))
        let cq = contextQuestion(example, answer: answer)
        return item(contextQuestion: cq, answer: answer, gen: gen, origin: origin)
    }

    func item(contextQuestion cq: [Int], answer: [Int], gen: Int?, origin: ItemOrigin) -> TrainingItem {
        let (ans, eos) = (tokenizer.answerToken(), tokenizer.endOfExampleToken())
        return TrainingItem(
            qa: LAMOLSequences.qa(contextQuestion: cq, answer: answer, ans: ans, eos: eos),
            lm: gen.map { LAMOLSequences.lm(contextQuestion: cq, answer: answer, gen: $0, ans: ans, eos: eos,
                                            answerWeight: settings.answerWeight) },
            origin: origin)
    }
}
