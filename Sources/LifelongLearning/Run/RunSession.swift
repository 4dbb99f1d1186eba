import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels

/// One execution of `StreamRunner.run`: the run directory's files, the state that checkpoints
/// save, and the three parts of a run — opening (fresh or resumed), evaluation, the stage loop.
final class RunSession<M: LifelongMethod> {
    let runner: StreamRunner
    var method: M
    let stream: [TaskData], model: DecoderLM, tokenizer: TaskTokenizer, modelName: String
    let startingModel: (() throws -> DecoderLM)?
    let checkpoints: RunCheckpoints?
    var state = RunState()
    /// The checkpoint the run continues from (nil for a fresh run).
    var resumedFrom: String?
    /// The resumed stage's training items, read and checked once when the run opens.
    private var resumedItems: [TrainingItem]?
    var logFile: FileHandle?
    let evaluator: AnswerEvaluator
    /// Stage i trains on task stages[i] (multitask: one stage).
    let stages: [Int]

    init(runner: StreamRunner, method: M, stream: [TaskData], model: DecoderLM, tokenizer: TaskTokenizer, modelName: String,
         startingModel: (() throws -> DecoderLM)?) throws {
        self.runner = runner; self.method = method; self.stream = stream; self.model = model; self.tokenizer = tokenizer
        self.modelName = modelName; self.startingModel = startingModel
        checkpoints = runner.runDirectory.map { RunCheckpoints(runDirectory: $0) }
        var evaluator = AnswerEvaluator(tokenizer: tokenizer)
        evaluator.maxLength = runner.settings.maxLength
        evaluator.batchSize = runner.evaluation.batchSize
        evaluator.strategy = runner.evaluation.strategy
        self.evaluator = evaluator
        stages = method.trainsOnUnion ? [0] : Array(stream.indices)
        if runner.resume && runner.runDirectory == nil { throw FormatError(file: "run", "--resume needs a run directory") }
        try TaskData.validateNames(stream)
        if let corpus = stream.first(where: \.isCorpus) {
            if let task = stream.first(where: { !$0.isCorpus }) {
                throw FormatError(file: "stream", "mixes the text corpus '\(corpus.name)' with the task '\(task.name)': a stream is all corpora or all tasks")
            }
            guard method.learnsCorpora else {
                throw FormatError(file: "method.name", "\(method.name) learns QA-format tasks, not text corpora; use "
                                  + MethodRegistry.corpusMethods.joined(separator: ", "))
            }
        }
    }

    deinit { try? logFile?.close() }

    private var seed: UInt64 { runner.seed }
    private func report(_ event: RunEvent) { runner.report(event) }
    private func stageLabel(_ index: Int) -> String { method.trainsOnUnion ? "all tasks" : stream[index].name }

    // MARK: Opening: a fresh run, or the last checkpoint's state, weights and method state

    /// Everything a resumed run reads is checked before anything in the run directory is written:
    /// a damaged checkpoint stops the run and leaves the directory as it was.
    func open() throws {
        var setAside: [String] = []
        if let runDirectory = runner.runDirectory, let checkpoints {
            if runner.resume {
                setAside = try findCheckpoint(checkpoints)
            } else {  // a fresh run (a new directory, or --overwrite): nothing of an earlier run is reused
                checkpoints.removeAll()
                for folder in Set(MethodRegistry.artefactFolders + M.artefactFolders + [ArtefactStore.predictionsFolder]) {
                    ArtefactStore(runDirectory: runDirectory, folder: folder).removeAll()
                }
            }
        }
        do {
            if let folder = resumedFrom, state.hasWeights { try restoreWeights(from: folder) }
            try prepareTokens()
            if let folder = resumedFrom, state.isMidStage { try checkMidStage(folder) }
        } catch let error as FormatError where resumedFrom != nil {
            throw error.adding(checkpoints!.alternatives(to: resumedFrom!))
        }
        if let runDirectory = runner.runDirectory, let checkpoints {
            try checkpoints.setAside(setAside)
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
            try openLog(in: runDirectory)
            try logStart()
        }
        if let folder = resumedFrom, state.hasWeights {
            report(.message("Resumed from \(folder): stage \(state.stage + 1), step \(state.stepsDone)"))
        }
    }

    /// A checkpoint inside a stage's training: its items fit the model, its step lies inside the
    /// stage those items make, and AdamW's moments have the parameters' sizes.
    private func checkMidStage(_ folder: String) throws {
        guard let items = try checkpoints!.items(from: folder, vocabularySize: model.config.vocabSize, maxLength: model.config.maxPositions) else {
            throw FormatError(file: (folder as NSString).appendingPathComponent("items.json"), "missing: the checkpoint is inside a stage's training")
        }
        let trainer = SequenceTrainer(settings: runner.settings, padToken: tokenizer.endOfExampleToken())
        let steps = trainer.stepCount(items: items, seed: trainingSeed(stages[state.stage]))
        guard state.stepsDone < steps else {
            throw FormatError(file: (folder as NSString).appendingPathComponent("state.json"),
                              "field 'steps_done' is \(state.stepsDone), but the stage's saved items make \(steps) steps")
        }
        try RunCheckpoints.checkMoments(model: model, path: (folder as NSString).appendingPathComponent("optimizer.safetensors"))
        resumedItems = items
    }

    /// The seed of stage `index`'s batch order.
    private func trainingSeed(_ index: Int) -> UInt64 { seed &+ UInt64(index) &* 31 }

    /// `--resume` never deletes: it continues from the newest checkpoint that verifies and stops
    /// with the reasons when there are checkpoint folders but none can be used. A run with no
    /// checkpoint at all (stopped before its first) starts from the beginning. Returns the folders
    /// to set aside (rename, never remove) once the checkpoint has been checked.
    private func findCheckpoint(_ checkpoints: RunCheckpoints) throws -> [String] {
        let search = try checkpoints.find()
        guard let (saved, folder) = search.newest else {
            if let error = checkpoints.noUsableCheckpoint(search) { throw error }
            for (name, problem) in search.unusable {  // only the interrupted first checkpoint: the run starts again
                report(.message("setting aside \(RunCheckpoints.damagedPrefix)\(name) (kept, not used): \(problem)"))
            }
            return search.unusable.map(\.folder)
        }
        do {
            try saved.check(stageCount: stages.count, taskNames: stream.map(\.name), file: (folder as NSString).appendingPathComponent("state.json"))
        } catch let error as FormatError {
            throw error.adding(checkpoints.alternatives(to: folder))
        }
        if let note = checkpoints.fallbackNote(search) { report(.message(note)) }
        var isDirectory: ObjCBool = false
        let latestIsFolder = FileManager.default.fileExists(atPath: checkpoints.directory + "/latest", isDirectory: &isDirectory) && isDirectory.boolValue
        // A folder named latest would block the next checkpoint's pointer.
        let unusable = search.unusable + (latestIsFolder ? [("latest", "a folder, not the file that names the newest checkpoint")] : [])
        for (name, problem) in unusable {
            report(.message("setting aside \(RunCheckpoints.damagedPrefix)\(name) (kept, not used): \(problem)"))
        }
        state = saved; resumedFrom = folder
        return unusable.map(\.folder)
    }

    /// The last checkpoint's state, weights and method state, read only: nothing in the run
    /// directory is written (`lifelong evaluate`).
    func openForEvaluation() throws {
        guard let checkpoints, let (saved, folder, fallback) = try checkpoints.newest() else {
            throw FormatError(file: runner.runDirectory ?? "run", "has no checkpoint to evaluate")
        }
        if let fallback { report(.message(fallback)) }
        guard saved.hasWeights else { throw FormatError(file: folder, "the run had not trained yet when this checkpoint was written") }
        try saved.check(stageCount: stages.count, taskNames: stream.map(\.name), file: (folder as NSString).appendingPathComponent("state.json"))
        state = saved; resumedFrom = folder
        try restoreWeights(from: folder)
        try prepareTokens()
    }

    private func restoreWeights(from folder: String) throws {
        let statePath = (folder as NSString).appendingPathComponent("state.json")
        do { try method.restore(try checkpoints!.methodState(from: folder, json: state.methodJSON)) } catch let error as DecodingError {
            throw FormatError(file: statePath, "field 'method_json' is not \(method.name)'s saved state: \(StrictJSON.describe(error))")
        }
        try checkpoints!.restore(model, tokenizer: tokenizer, state: state, from: folder)
    }

    /// The special tokens every run has, in the order that fixes their ids, and their rows.
    private func prepareTokens() throws {
        if let separator = method.answerSeparator { try tokenizer.useBaseAnswerToken(separator, field: "method.separator") }
        // A corpus stream has no answers: no ANS row, so the untrained NLL is the pretrained model's.
        if !(stream.first?.isCorpus ?? false) { tokenizer.answerToken() }
        tokenizer.endOfExampleToken()
        if let folder = resumedFrom, tokenizer.specialNames.count > state.specialTokens.count {  // every checkpoint has these
            let lacking = tokenizer.specialNames.filter { !state.specialTokens.contains($0) }
            throw FormatError(file: (folder as NSString).appendingPathComponent("state.json"),
                              "field 'special_tokens' lacks \(lacking.joined(separator: ", ")), which this run's method uses from the start")
        }
        syncVocabulary()
    }

    /// `log.jsonl`: new for a fresh run; when resuming, cut back to what the checkpoint had seen.
    /// A log shorter than that (truncated or deleted since) is not padded: the run appends to what
    /// is there and says that lines are missing.
    private func openLog(in runDirectory: String) throws {
        let logPath = (runDirectory as NSString).appendingPathComponent("log.jsonl")
        let exists = FileManager.default.fileExists(atPath: logPath)
        if !exists || !runner.resume {
            guard FileManager.default.createFile(atPath: logPath, contents: nil) else { throw FormatError.io(file: logPath, "cannot create") }
        }
        let fd = try UserFile.openRegular(logPath)  // a log replaced by a pipe or a directory is refused
        close(fd)
        logFile = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let length = try logFile?.seekToEnd() ?? 0
        // A resumed run keeps the lines its checkpoint had written (none when it starts again from the
        // beginning, having no checkpoint) and drops those of the interrupted attempt after them.
        guard runner.resume else { return }
        if length >= UInt64(state.logBytes) {
            try logFile?.truncate(atOffset: UInt64(state.logBytes))
            try logFile?.seekToEnd()
        } else {
            let missing = "log.jsonl holds \(length) bytes, but the checkpoint had written \(state.logBytes): lines before this point are missing"
            report(.message("note: \(missing)"))
            try logLine(["event": "log_gap", "message": missing])
        }
    }

    private var provenance: Provenance { .current(modelFile: runner.modelFile?.path, modelSHA256: runner.modelFile?.sha256) }

    /// The first line of a fresh run's log, and a line where a resumed run continues: what produced
    /// the lines that follow (version, commit, date, host, threads, BLAS) and from which model.
    private func logStart() throws {
        let provenance = try JSONSerialization.jsonObject(with: JSONEncoder().encode(provenance))
        var event: [String: Any] = ["event": resumedFrom == nil ? "start" : "resumed", "model": modelName,
                                    "method": method.name, "provenance": provenance]
        if let folder = resumedFrom { event["checkpoint"] = (folder as NSString).lastPathComponent }
        try logLine(event)
    }

    /// Grows the model for special tokens the tokenizer has and the model lacks.
    private func syncVocabulary() {
        let missing = tokenizer.vocabularySize - model.config.vocabSize
        if missing > 0 { model.addTokens(missing, seed: seed &+ UInt64(model.config.vocabSize)) }
    }

    // MARK: Evaluation

    func evaluateBaseline() throws {
        guard let baseline = try evaluateAll("untrained") else { throw interrupted() }
        state.baseline = baseline.scores
        SecondaryScores.record(baseline.secondary, untrained: true, into: &state.secondary, stream: stream)
        try evaluateFewShot(after: false)
        try checkpoint()
    }

    /// Few-shot rank classification of the model itself (a method's predictor decodes; this
    /// scores likelihoods, so SLM is scored without its increments), once before the stream and
    /// once after it; a resumed run keeps what it measured.
    func evaluateFewShot(after: Bool) throws {
        let tasks = runner.evaluation.fewShotTasks
        guard !tasks.isEmpty else { return }
        var record = state.fewShot ?? FewShotRecord(shots: runner.evaluation.fewShotShots, tasks: tasks.map(\.name))
        guard (after ? record.after : record.before) == nil else { return }
        var scorer = FewShotEvaluator(tokenizer: tokenizer)
        scorer.shots = runner.evaluation.fewShotShots; scorer.examples = runner.evaluation.fewShotExamples
        scorer.maxLength = model.config.hasLearnedPositions ? model.config.maxPositions : max(runner.settings.maxLength, 1024)
        let start = Date()
        let scores = tasks.map { task -> Double in
            report(.message("  few-shot (\(scorer.shots) shots) \(after ? "after" : "before") the stream: \(task.name)"))
            return scorer.accuracy(model, on: task, seed: seed &+ 101)
        }
        state.secondsEvaluating += Date().timeIntervalSince(start)
        if after { record.after = scores } else { record.before = scores }
        state.fewShot = record
        report(.message("  few-shot \(after ? "after" : "before"): " + zip(tasks, scores).map { "\($0.name) \(String(format: "%.1f", $1))" }.joined(separator: "  ")))
        if after { try checkpoint() }
    }

    /// Evaluates every task with the method's predictor: R's row, and the secondary metrics'
    /// scores (metric → task → score); nil when stopped on request (nothing of the row is kept).
    func evaluateAll(_ label: String) throws -> (scores: [Double], secondary: [String: [String: Double]])? {
        let start = Date()
        let predictor = try method.predictor(for: model, stream: stream)
        var row: [Double] = [], predictions: [String: [[String]]] = [:], secondary: [String: [String: Double]] = [:]
        for (index, task) in stream.enumerated() {
            if runner.shouldStop() { return nil }
            report(.evaluating(index: index, count: stream.count, task: task.name))
            let result = try evaluator.evaluate(predictor, on: task, seed: seed)
            predictions[task.name] = zip(result.predictions, task.test).prefix(5).map { [$0, $1.answers[0]] }
            try writePredictions(result.predictions, of: task)
            row.append(result.score)
            for (metric, score) in result.secondary { secondary[metric, default: [:]][task.name] = score }
        }
        state.secondsEvaluating += Date().timeIntervalSince(start)
        state.finalPredictions = predictions
        var event: [String: Any] = ["event": "evaluation", "after": label, "scores": Dictionary(uniqueKeysWithValues: zip(stream.map(\.name), row))]
        if !secondary.isEmpty { event["secondary_scores"] = secondary }
        try logLine(event)
        report(.message("  \(label): " + zip(stream, row).map { "\($0.name) \(String(format: $0.isCorpus ? "%.3f" : "%.1f", $1))" }.joined(separator: "  ")))
        return (row, secondary)
    }

    /// Every prediction of the evaluation beside the example's id and gold answers.
    func writePredictions(_ predictions: [String], of task: TaskData) throws {
        guard let runDirectory = runner.runDirectory, !predictions.isEmpty else { return }
        var lines = Data()
        for (prediction, example) in zip(predictions, task.test) {
            let line: [String: Any] = ["id": example.id, "prediction": prediction, "answers": example.answers]
            lines.append(try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys, .withoutEscapingSlashes]))
            lines.append(UInt8(ascii: "\n"))
        }
        try ArtefactStore(runDirectory: runDirectory, folder: ArtefactStore.predictionsFolder).write(lines, to: "\(task.name).jsonl")
    }

    // MARK: The stage loop

    /// Trains the current stage (unless a checkpoint says it is trained), evaluates, checkpoints.
    func runStage() throws {
        let index = stages[state.stage], label = stageLabel(index)
        report(.stageStarted(index: state.stage, count: stages.count, label: label))
        report(.message("\(method.name): training on \(label) (\(state.stage + 1)/\(stages.count))"))
        if !state.stageTrained { try trainStage(index, label: label) }
        guard let row = try evaluateAll("after \(label)") else {
            try checkpoint(); throw interrupted()
        }
        state.matrix.append(row.scores)
        SecondaryScores.record(row.secondary, untrained: false, into: &state.secondary, stream: stream)
        state.stage += 1; state.stepsDone = 0; state.stageTrained = false; state.optimizerSteps = 0
        try checkpoint()
        try writeResults()
    }

    private func stageContext(_ index: Int) throws -> StageContext {
        var context = StageContext(index: index, stream: stream, model: model, tokenizer: tokenizer, settings: runner.settings,
                                   seed: seed &+ UInt64(index))
        context.runDirectory = runner.runDirectory
        context.startingModel = startingModel
        context.checkpointEvery = runner.checkpointEvery
        context.shouldStop = runner.shouldStop
        context.report = runner.report
        context.evaluator = evaluator
        if state.isMidStage { context.resumedItems = resumedItems ?? [] }  // read and checked in open()
        return context
    }

    private func trainStage(_ index: Int, label: String) throws {
        let start = Date()
        let context = try stageContext(index)
        let midStage = state.stepsDone > 0
        let plan = try method.planStage(context)
        syncVocabulary()  // tokens the method introduced (a task's token, `__gen__`) get their rows

        let trainer = SequenceTrainer(settings: runner.settings, padToken: tokenizer.endOfExampleToken())
        let (method, model, settings) = (self.method, self.model, runner.settings)
        var stopped = false
        let completed = try trainer.train(
            model, items: plan.items, taskName: label, seed: trainingSeed(index), trainable: plan.trainable, startStep: state.stepsDone,
            prepare: { optimizer in
                if midStage { try self.checkpoints!.restoreOptimizer(optimizer, model: model, stepCount: self.state.optimizerSteps, from: self.resumedFrom!) }
            },
            objective: { method.objective($0, model: model, settings: settings) },
            penalty: { method.penalty(model) }
        ) { step, optimizer in
            try self.log(step)
            self.report(.trained(step))
            self.state.stepsDone = step.step + 1
            self.state.optimizerSteps = optimizer.stepCount
            stopped = self.runner.shouldStop()
            let periodic = self.runner.checkpointEvery.map { self.state.stepsDone % $0 == 0 } ?? false
            if (stopped || periodic) && self.state.stepsDone < step.totalSteps {
                try self.checkpoint(optimizer: optimizer, items: plan.items, trainingSeconds: Date().timeIntervalSince(start))
            }
            return !stopped
        }
        state.secondsTraining += Date().timeIntervalSince(start)
        if stopped && !completed { throw interrupted() }
        // The method's end of stage sees the stage's trainable set (EWC's importance is of what trained).
        try GradMode.freezing(model.parameters(splitBy: plan.trainable).frozen) { try self.method.finishStage(context) }
        state.stageTrained = true
        if stopped { try checkpoint(); throw interrupted() }
    }

    // MARK: Files: the log, checkpoints, results

    /// Appends a step to `log.jsonl`; a failed write (a full disk) stops the run with the error.
    private func log(_ step: StepLog) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try append(try encoder.encode(step))
    }

    /// Appends an event (an evaluation's scores) to `log.jsonl`.
    private func logLine(_ event: [String: Any]) throws {
        try append(try JSONSerialization.data(withJSONObject: event, options: [.sortedKeys]))
    }

    private func append(_ line: Data) throws {
        guard let logFile else { return }
        do { try logFile.write(contentsOf: line + Data("\n".utf8)) } catch {
            throw FormatError.io(file: (runner.runDirectory! as NSString).appendingPathComponent("log.jsonl"), "cannot write: \(describeFileError(error))")
        }
    }

    /// `trainingSeconds`: time spent in the current stage, not yet added to the state.
    func checkpoint(optimizer: AdamW? = nil, items: [TrainingItem]? = nil, trainingSeconds: Double = 0) throws {
        guard let checkpoints else { return }
        try logFile?.synchronize()
        var saved = state
        saved.logBytes = Int(try logFile?.offset() ?? 0)
        saved.specialTokens = tokenizer.specialNames
        let replaced = model.layerRecords
        saved.replacedLayers = replaced.isEmpty ? nil : replaced
        saved.secondsTraining += trainingSeconds
        let methodState = method.savedState()
        saved.methodJSON = methodState.json
        saved.hasWeights = state.stage > 0 || state.stepsDone > 0 || state.stageTrained
        try checkpoints.save(saved, model: saved.hasWeights ? model : nil, optimizer: optimizer, method: methodState, items: items)
        report(.checkpointed(path: checkpoints.directory))
    }

    func interrupted() -> RunInterrupted {
        RunInterrupted(checkpoint: checkpoints?.directory ?? "(no run directory)")
    }

    /// `complete`: every stage and every evaluation of the run is in (what a sweep counts as done).
    func results(complete: Bool = false) -> StreamRunner.Results {
        let square = state.matrix.count == stream.count
        let statistics = method.statistics
        var results = StreamRunner.Results(
            method: method.name, model: modelName, seed: seed, tasks: stream.map(\.name), metricNames: stream.map(\.metric.rawValue),
            matrix: state.matrix, baseline: state.baseline ?? [],
            metrics: square ? ContinualMetrics(matrix: state.matrix, baseline: state.baseline ?? [],
                                                lowerIsBetter: stream.allSatisfy(\.isCorpus)) : nil,
            finalAverage: (state.matrix.last ?? []).reduce(0, +) / Double(stream.count),
            pseudoSamples: statistics.pseudoSamples,
            secondsTraining: state.secondsTraining, secondsEvaluating: state.secondsEvaluating,
            finalPredictions: state.finalPredictions,
            methodStatistics: statistics.details.isEmpty ? nil : statistics.details, provenance: provenance,
            fewShot: state.fewShot, secondaryScores: state.secondary, complete: complete)
        results.trainsOnUnion = method.trainsOnUnion
        let sections = M.reportSections(results)
        results.reportSections = sections.isEmpty ? nil : sections
        return results
    }

    func writeResults(complete: Bool = false) throws {
        guard let runDirectory = runner.runDirectory else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(results(complete: complete)), to: (runDirectory as NSString).appendingPathComponent("results.json"))
    }
}
