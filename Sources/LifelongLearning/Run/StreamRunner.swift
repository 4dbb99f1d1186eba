import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels

/// Runs a method over a stream of tasks: before training, and after each task (or after the one
/// multitask stage), the model is evaluated on every task of the stream, seen or not, giving the
/// score matrix R. Writes `results.json` (after every stage), `log.jsonl` (as it goes), `samples/`
/// and `checkpoints/` (after every stage, every `checkpointEvery` steps, and when stopped) into the
/// run directory; with `resume` it continues from the last checkpoint.
public struct StreamRunner {
    public var settings: TrainingSettings
    public var seed: UInt64
    public var runDirectory: String?
    /// How answers are decoded at evaluation (batch size, greedy or top-k).
    public var evaluation = EvaluationSettings()
    /// Progress: stage starts, steps, generation, evaluation results.
    public var report: (RunEvent) -> Void = { if case let .message(line) = $0 { print(line) } }
    /// Continue from the run directory's last checkpoint.
    public var resume = false
    /// Optimiser steps between checkpoints inside a stage (nil: only after each stage).
    public var checkpointEvery: Int? = nil
    /// The model file and its recorded sha256, for the provenance in results.json and log.jsonl.
    public var modelFile: (path: String, sha256: String?)? = nil
    /// Polled after each step and each evaluated task; true makes the run write a checkpoint and
    /// throw `RunInterrupted`.
    public var shouldStop: () -> Bool = { false }

    public init(settings: TrainingSettings, seed: UInt64, runDirectory: String?) {
        self.settings = settings; self.seed = seed; self.runDirectory = runDirectory
    }

    public struct EvaluationSettings: Sendable {
        public var batchSize = 64
        public var strategy: SamplingStrategy = .greedy
        /// Classification tasks scored few-shot before and after the stream (`FewShotEvaluator`).
        public var fewShotTasks: [TaskData] = []
        public var fewShotShots = 5
        public var fewShotExamples = 100
    }

    public struct Results: Codable, Sendable {
        public var method: String
        public var model: String
        public var seed: UInt64
        public var tasks: [String]
        public var metricNames: [String]
        /// R[i][j]: score on task j after stage i.
        public var matrix: [[Double]]
        /// b_j: the untrained model's score on task j.
        public var baseline: [Double]
        public var metrics: ContinualMetrics?
        /// ACC for a single-stage (multitask) run.
        public var finalAverage: Double
        public var pseudoSamples: [SampleStatistics]
        public var secondsTraining: Double
        public var secondsEvaluating: Double
        /// The first few predictions of the final evaluation per task, beside the gold answer.
        public var finalPredictions: [String: [[String]]]? = nil
        /// What the method reports beyond pseudo-samples (L2KD: each teacher's score).
        public var methodStatistics: [String: JSONValue]? = nil
        /// Version, commit, date, host, threads and BLAS of the program that wrote the results.
        public var provenance: Provenance? = nil
        public var formulas = ContinualMetrics.formulas
        /// Few-shot accuracies before and after the stream, when the config asks for them.
        public var fewShot: FewShotRecord? = nil
        /// Secondary metrics by name (BLEU beside ROUGE-L): a matrix like R for the tasks that have them.
        public var secondaryScores: [String: SecondaryScores]? = nil
        /// True once every stage and every evaluation (few-shot after the stream too) is in; false
        /// while the run is under way; absent in results written before this field existed.
        public var complete: Bool? = nil
        /// The method's own tables for the report (`LifelongMethod.reportSections`).
        public var reportSections: [ReportSection]? = nil
        /// The run trained one stage on the union of its tasks (multitask: the upper bound).
        public var trainsOnUnion: Bool? = nil

        /// `trainsOnUnion`, or for results written before it, what the method that wrote them does.
        var isUnionRun: Bool { trainsOnUnion ?? MethodRegistry.trainsOnUnion(method: method) }

        enum CodingKeys: String, CodingKey {
            case method, model, seed, tasks, matrix, baseline, metrics, formulas
            case finalPredictions = "final_predictions", methodStatistics = "method_statistics", provenance, fewShot = "few_shot"
            case secondaryScores = "secondary_scores", complete, reportSections = "report_sections", trainsOnUnion = "trains_on_union"
            case metricNames = "task_metrics", finalAverage = "final_average", pseudoSamples = "pseudo_samples"
            case secondsTraining = "seconds_training", secondsEvaluating = "seconds_evaluating"
        }
    }

    /// This runner with `max_length` cut to a GPT-2 model's learned positions: no sequence, real
    /// or generated, may need a position the model has no embedding for. Fewer than 8 positions
    /// leave no room for a question and its answer and are refused.
    func fitted(to model: DecoderLM) throws -> StreamRunner {
        let positions = model.config.maxPositions
        guard model.config.hasLearnedPositions, positions < settings.maxLength else { return self }
        guard positions >= 8 else {
            throw FormatError(file: "model", "has \(positions) positions; a run needs at least 8 (training.max_length is \(settings.maxLength))")
        }
        report(.message("training.max_length \(settings.maxLength) is cut to the model's \(positions) positions"))
        var fitted = self
        fitted.settings.maxLength = positions
        return fitted
    }

    /// Runs `method` over `stream`, from `model` as given (or from the run directory's last
    /// checkpoint with `resume`). `startingModel` makes a fresh copy of the model the run starts
    /// from, for methods that need one (L2KD's teachers).
    public func run<M: LifelongMethod>(_ method: inout M, stream: [TaskData], model: DecoderLM, tokenizer: TaskTokenizer,
                                       modelName: String, startingModel: (() throws -> DecoderLM)? = nil) throws -> Results {
        let session = try RunSession(runner: try fitted(to: model), method: method, stream: stream, model: model, tokenizer: tokenizer,
                                     modelName: modelName, startingModel: startingModel)
        defer { method = session.method }
        try session.open()
        if session.state.baseline == nil { try session.evaluateBaseline() }
        while session.state.stage < session.stages.count { try session.runStage() }
        try session.evaluateFewShot(after: true)
        try session.writeResults(complete: true)
        return session.results(complete: true)
    }
}
