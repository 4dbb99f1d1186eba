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
    /// Polled after each step and each evaluated task; true makes the run write a checkpoint and
    /// throw `RunInterrupted`.
    public var shouldStop: () -> Bool = { false }

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
        var samplesDirectory: String? = nil, logFile: FileHandle? = nil
        let checkpoints = runDirectory.map { RunCheckpoints(runDirectory: $0) }
        var state = RunState()
        var resumedFrom: String? = nil
        if let runDirectory, let checkpoints {
            samplesDirectory = (runDirectory as NSString).appendingPathComponent("samples")
            try fm.createDirectory(atPath: samplesDirectory!, withIntermediateDirectories: true)
            if resume, let (saved, folder) = try checkpoints.latest() {
                state = saved; resumedFrom = folder
            } else {
                checkpoints.removeAll()
            }
            let logPath = (runDirectory as NSString).appendingPathComponent("log.jsonl")
            if !fm.fileExists(atPath: logPath) || resumedFrom == nil {
                guard fm.createFile(atPath: logPath, contents: nil) else { throw FormatError(file: logPath, "cannot create") }
            }
            logFile = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            try logFile?.truncate(atOffset: UInt64(state.logBytes))
            try logFile?.seekToEnd()
        } else if resume {
            throw FormatError(file: "run", "--resume needs a run directory")
        }
        defer { try? logFile?.close() }
        let sortedEncoder = JSONEncoder()
        sortedEncoder.outputFormatting = .sortedKeys

        /// Grows the model for special tokens the tokenizer has and the model lacks.
        func syncVocabulary() {
            let missing = tokenizer.vocabularySize - model.config.vocabSize
            if missing > 0 { model.addTokens(missing, seed: seed &+ UInt64(model.config.vocabSize)) }
        }
        if let folder = resumedFrom, state.hasWeights {
            try checkpoints!.restore(model, tokenizer: tokenizer, state: state, from: folder)
            try method.restore(try checkpoints!.methodState(from: folder, json: state.methodJSON))
            report(.message("Resumed from \(folder): stage \(state.stage + 1), step \(state.stepsDone)"))
        }
        _ = (tokenizer.answer, tokenizer.endOfExample)
        syncVocabulary()

        var evaluator = AnswerEvaluator(tokenizer: tokenizer)
        evaluator.maxLength = settings.maxLength
        evaluator.batchSize = evaluation.batchSize
        evaluator.strategy = evaluation.strategy
        let stages = method.trainsOnUnion ? [0] : Array(stream.indices)
        let union = method.trainsOnUnion
        func stageLabel(_ index: Int) -> String { union ? "all tasks" : stream[index].name }

        func results() -> Results {
            let square = state.matrix.count == stream.count
            return Results(
                method: method.name, model: modelName, seed: seed, tasks: stream.map(\.name), metricNames: stream.map(\.metric.rawValue),
                matrix: state.matrix, baseline: state.baseline ?? [],
                metrics: square ? ContinualMetrics(matrix: state.matrix, baseline: state.baseline ?? []) : nil,
                finalAverage: (state.matrix.last ?? []).reduce(0, +) / Double(stream.count),
                pseudoSamples: (method as? LAMOL)?.statistics ?? [],
                secondsTraining: state.secondsTraining, secondsEvaluating: state.secondsEvaluating,
                finalPredictions: state.finalPredictions)
        }
        func writeResults() throws {
            guard let runDirectory else { return }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try writeAtomically(try encoder.encode(results()), to: (runDirectory as NSString).appendingPathComponent("results.json"))
        }
        /// `trainingSeconds`: time spent in the current stage, not yet added to the state.
        func checkpoint(optimizer: AdamW? = nil, items: [TrainingItem]? = nil, trainingSeconds: Double = 0) throws {
            guard let checkpoints else { return }
            try logFile?.synchronize()
            var saved = state
            saved.logBytes = Int(try logFile?.offset() ?? 0)
            saved.specialTokens = tokenizer.specialNames
            saved.secondsTraining += trainingSeconds
            let methodState = method.savedState()
            saved.methodJSON = methodState.json
            saved.hasWeights = state.stage > 0 || state.stepsDone > 0 || state.stageTrained
            try checkpoints.save(saved, model: saved.hasWeights ? model : nil, optimizer: optimizer, method: methodState, items: items)
            report(.checkpointed(path: checkpoints.directory))
        }
        /// Evaluates every task; nil when stopped on request (nothing of the row is kept).
        func evaluateAll(_ label: String) -> [Double]? {
            let start = Date()
            var row: [Double] = [], predictions: [String: [[String]]] = [:]
            for (index, task) in stream.enumerated() {
                if shouldStop() { return nil }
                report(.evaluating(index: index, count: stream.count, task: task.name))
                let result = evaluator.evaluate(model, on: task, seed: seed)
                predictions[task.name] = zip(result.predictions, task.test).prefix(5).map { [$0, $1.answers[0]] }
                row.append(result.score)
            }
            state.secondsEvaluating += Date().timeIntervalSince(start)
            state.finalPredictions = predictions
            report(.message("  \(label): " + zip(stream, row).map { "\($0.name) \(String(format: "%.1f", $1))" }.joined(separator: "  ")))
            return row
        }
        func interrupted() throws -> RunInterrupted {
            RunInterrupted(checkpoint: checkpoints?.directory ?? "(no run directory)")
        }

        if state.baseline == nil {
            guard let baseline = evaluateAll("untrained") else { throw try interrupted() }
            state.baseline = baseline
            try checkpoint()
        }
        while state.stage < stages.count {
            let index = stages[state.stage], label = stageLabel(index)
            report(.stageStarted(index: state.stage, count: stages.count, label: label))
            report(.message("\(method.name): training on \(label) (\(state.stage + 1)/\(stages.count))"))
            if !state.stageTrained {
                let start = Date()
                var context = MethodContext(model: model, tokenizer: tokenizer, settings: settings,
                                            seed: seed &+ UInt64(index), samplesDirectory: samplesDirectory)
                context.report = report
                let midStage = state.stepsDone > 0
                let items = try midStage ? (checkpoints!.items(from: resumedFrom!) ?? []) : method.items(forTask: index, of: stream, context: context)
                syncVocabulary()  // tokens the method introduced (a task's token, `__gen__`) get their rows
                let trainer = SequenceTrainer(settings: settings, padToken: tokenizer.endOfExample)
                let regularizer = method
                var stopped = false
                let completed = try trainer.train(
                    model, items: items, taskName: label, seed: seed &+ UInt64(index) &* 31, startStep: state.stepsDone,
                    prepare: { optimizer in
                        if midStage { try checkpoints!.restoreOptimizer(optimizer, model: model, stepCount: state.optimizerSteps, from: resumedFrom!) }
                    },
                    regularize: { regularizer.regularize($0) }
                ) { step, optimizer in
                    if let line = try? sortedEncoder.encode(step) { logFile?.write(line + Data("\n".utf8)) }
                    report(.trained(step))
                    state.stepsDone = step.step + 1
                    state.optimizerSteps = optimizer.stepCount
                    stopped = shouldStop()
                    let periodic = checkpointEvery.map { state.stepsDone % $0 == 0 } ?? false
                    if (stopped || periodic) && state.stepsDone < step.totalSteps {
                        try checkpoint(optimizer: optimizer, items: items, trainingSeconds: Date().timeIntervalSince(start))
                    }
                    return !stopped
                }
                state.secondsTraining += Date().timeIntervalSince(start)
                if stopped && !completed { throw try interrupted() }
                method.finishTask(index, of: stream, context: context)
                state.stageTrained = true
                if stopped { try checkpoint(); throw try interrupted() }
            }
            guard let row = evaluateAll("after \(label)") else {
                try checkpoint(); throw try interrupted()
            }
            state.matrix.append(row)
            state.stage += 1; state.stepsDone = 0; state.stageTrained = false; state.optimizerSteps = 0
            try checkpoint()
            try writeResults()
        }
        try writeResults()
        return results()
    }
}
