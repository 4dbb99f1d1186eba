import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels

/// Runs a method over a stream of tasks: before training, and after each task (or after the one
/// multitask stage), the model is evaluated on every task of the stream, seen or not, giving the
/// score matrix R. Writes `results.json`, `log.jsonl` and `samples/` into the run directory.
public struct StreamRunner {
    public var settings: TrainingSettings
    public var seed: UInt64
    public var runDirectory: String?
    /// How answers are decoded at evaluation (batch size, greedy or top-k).
    public var evaluation = EvaluationSettings()
    /// Called with a line of progress (stage starts, evaluation results).
    public var log: (String) -> Void = { print($0) }

    public init(settings: TrainingSettings, seed: UInt64, runDirectory: String?) {
        self.settings = settings; self.seed = seed; self.runDirectory = runDirectory
    }

    public struct EvaluationSettings: Sendable {
        public var batchSize = 64
        public var strategy: SamplingStrategy = .greedy
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
        public var formulas = ContinualMetrics.formulas

        enum CodingKeys: String, CodingKey {
            case method, model, seed, tasks, matrix, baseline, metrics, formulas
            case finalPredictions = "final_predictions"
            case metricNames = "task_metrics", finalAverage = "final_average", pseudoSamples = "pseudo_samples"
            case secondsTraining = "seconds_training", secondsEvaluating = "seconds_evaluating"
        }
    }

    public func run<M: LifelongMethod>(_ method: inout M, stream: [TaskData], model: DecoderLM, tokenizer: TaskTokenizer,
                                       modelName: String) throws -> Results {
        let fm = FileManager.default
        var samplesDirectory: String? = nil
        if let runDirectory {
            samplesDirectory = (runDirectory as NSString).appendingPathComponent("samples")
            try fm.createDirectory(atPath: samplesDirectory!, withIntermediateDirectories: true)
        }
        var logLines = ""
        /// Grows the model for special tokens the tokenizer has and the model lacks.
        func syncVocabulary() {
            let missing = tokenizer.vocabularySize - model.config.vocabSize
            if missing > 0 { model.addTokens(missing, seed: seed &+ UInt64(model.config.vocabSize)) }
        }
        _ = (tokenizer.answer, tokenizer.endOfExample)
        syncVocabulary()

        var evaluator = AnswerEvaluator(tokenizer: tokenizer)
        evaluator.maxLength = settings.maxLength
        evaluator.batchSize = evaluation.batchSize
        evaluator.strategy = evaluation.strategy
        var evaluationTime = 0.0, trainingTime = 0.0
        var lastPredictions: [String: [[String]]] = [:]
        func evaluateAll(_ label: String) -> [Double] {
            let start = Date()
            let row = stream.map { task -> Double in
                let result = evaluator.evaluate(model, on: task, seed: seed)
                lastPredictions[task.name] = zip(result.predictions, task.test).prefix(5).map { [$0, $1.answers[0]] }
                return result.score
            }
            evaluationTime += Date().timeIntervalSince(start)
            log("  \(label): " + zip(stream, row).map { "\($0.name) \(String(format: "%.1f", $1))" }.joined(separator: "  "))
            return row
        }

        let baseline = evaluateAll("untrained")
        var matrix: [[Double]] = []
        let stages = method.trainsOnUnion ? [0] : Array(stream.indices)
        for index in stages {
            let label = method.trainsOnUnion ? "all tasks" : stream[index].name
            log("\(method.name): training on \(label) (\(index + 1)/\(stages.count))")
            let start = Date()
            let context = MethodContext(model: model, tokenizer: tokenizer, settings: settings,
                                        seed: seed &+ UInt64(index), samplesDirectory: samplesDirectory)
            let items = method.items(forTask: index, of: stream, context: context)
            syncVocabulary()  // tokens the method introduced (a task's token, `__gen__`) get their rows
            let trainer = SequenceTrainer(settings: settings, padToken: tokenizer.endOfExample)
            let regularizer = method
            trainer.train(model, items: items, taskName: label, seed: seed &+ UInt64(index) &* 31,
                          regularize: { regularizer.regularize($0) }) { step in
                if let line = try? JSONEncoder().encode(step) { logLines += String(decoding: line, as: UTF8.self) + "\n" }
            }
            method.finishTask(index, of: stream, context: context)
            trainingTime += Date().timeIntervalSince(start)
            matrix.append(evaluateAll("after \(label)"))
        }

        let square = matrix.count == stream.count
        let results = Results(
            method: method.name, model: modelName, seed: seed, tasks: stream.map(\.name), metricNames: stream.map(\.metric.rawValue),
            matrix: matrix, baseline: baseline,
            metrics: square ? ContinualMetrics(matrix: matrix, baseline: baseline) : nil,
            finalAverage: matrix.last!.reduce(0, +) / Double(stream.count),
            pseudoSamples: (method as? LAMOL)?.statistics ?? [],
            secondsTraining: trainingTime, secondsEvaluating: evaluationTime, finalPredictions: lastPredictions)
        if let runDirectory {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try writeAtomically(try encoder.encode(results), to: (runDirectory as NSString).appendingPathComponent("results.json"))
            try writeAtomically(Data(logLines.utf8), to: (runDirectory as NSString).appendingPathComponent("log.jsonl"))
        }
        return results
    }
}
