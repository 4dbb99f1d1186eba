import Foundation
import LifelongFormats
import LifelongModels

extension StreamRunner {
    /// One evaluation of a run's last checkpoint on every task of its stream, with evaluation
    /// settings that may differ from the run's (`lifelong evaluate`): SLM's oracle-task or
    /// per-batch retrieval on the very slots the run trained, or another decoding.
    public struct Evaluation: Codable, Sendable {
        /// The checkpoint evaluated (its folder name), and how far the run was when it was written:
        /// stages finished of `stageCount`, and optimiser steps into the next one.
        public var checkpoint: String
        public var stagesDone: Int, stageCount: Int, stepsDone: Int
        public var tasks: [String]
        public var metricNames: [String]
        /// Score per task, in stream order (what a row of R holds), and their mean.
        public var scores: [Double]
        public var average: Double
        /// The run's own scores from the same weights (R's last row), to compare with; nil when the
        /// checkpoint was written inside a stage.
        public var runScores: [Double]?
        public var secondaryScores: [String: [String: Double]]?
        /// The first few predictions per task, beside the gold answer.
        public var predictions: [String: [[String]]]
        /// What the method reports about this evaluation (SLM: retrieval accuracy and confusion).
        public var methodStatistics: [String: JSONValue]?
        public var provenance: Provenance
        public var secondsEvaluating: Double

        enum CodingKeys: String, CodingKey {
            case checkpoint, tasks, scores, average, predictions, provenance
            case stagesDone = "stages_done", stageCount = "stage_count", stepsDone = "steps_done"
            case metricNames = "task_metrics", runScores = "run_scores", secondaryScores = "secondary_scores"
            case methodStatistics = "method_statistics", secondsEvaluating = "seconds_evaluating"
        }
    }

    /// Evaluates the run directory's last checkpoint with `method`'s predictor. Reads the run and
    /// writes nothing into it; `model` and `tokenizer` are the run's starting model and tokenizer.
    public func evaluate<M: LifelongMethod>(_ method: inout M, stream: [TaskData], model: DecoderLM, tokenizer: TaskTokenizer,
                                            modelName: String) throws -> Evaluation {
        guard runDirectory != nil else { throw FormatError(file: "run", "evaluating a run needs its directory") }
        let session = try RunSession(runner: try fitted(to: model), method: method, stream: stream, model: model, tokenizer: tokenizer,
                                     modelName: modelName, startingModel: nil)
        defer { method = session.method }
        try session.openForEvaluation()
        let start = Date(), checkpoint = (session.resumedFrom! as NSString).lastPathComponent
        guard let row = try session.evaluateAll("checkpoint \(checkpoint)") else { throw RunInterrupted(checkpoint: session.resumedFrom!) }
        let statistics = session.method.statistics.details
        return Evaluation(
            checkpoint: checkpoint, stagesDone: session.state.stage,
            stageCount: session.stages.count, stepsDone: session.state.stepsDone, tasks: stream.map(\.name),
            metricNames: stream.map(\.metric.rawValue), scores: row.scores, average: row.scores.reduce(0, +) / Double(max(row.scores.count, 1)),
            runScores: session.state.stepsDone == 0 && !session.state.stageTrained ? session.state.matrix.last : nil,
            secondaryScores: row.secondary.isEmpty ? nil : row.secondary, predictions: session.state.finalPredictions ?? [:],
            methodStatistics: statistics.isEmpty ? nil : statistics,
            provenance: .current(modelFile: modelFile?.path, modelSHA256: modelFile?.sha256),
            secondsEvaluating: Date().timeIntervalSince(start))
    }
}

/// `<run>/evaluations/<name>.json`: one `lifelong evaluate` of the run, with the settings it was
/// given (`method.oracle_task=true`). The report shows them beside the run's own evaluation.
public struct SavedEvaluation: Codable, Sendable {
    /// The file's name without `.json` (not stored inside it).
    public var name: String
    public var settings: [String]
    public var evaluation: StreamRunner.Evaluation

    public init(name: String, settings: [String], evaluation: StreamRunner.Evaluation) {
        self.name = name; self.settings = settings; self.evaluation = evaluation
    }

    public static func path(of name: String, in runDirectory: String) -> String {
        ((runDirectory as NSString).appendingPathComponent("evaluations") as NSString).appendingPathComponent("\(name).json")
    }

    /// Every evaluation of the run, by name; a file that is not one is an error naming it.
    public static func all(in runDirectory: String) throws -> [SavedEvaluation] {
        let folder = (runDirectory as NSString).appendingPathComponent("evaluations")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return try names.map { file in
            let path = (folder as NSString).appendingPathComponent(file)
            guard let data = try? UserFile.data(path) else { throw FormatError.io(file: path, "cannot read") }
            do {
                var saved = try JSONDecoder().decode(SavedEvaluation.self, from: data)
                saved.name = String(file.dropLast(5))
                return saved
            } catch {
                throw FormatError(file: path, "not an evaluation written by `lifelong evaluate`: \(error)")
            }
        }
    }

    public func write(to runDirectory: String) throws {
        let path = Self.path(of: name, in: runDirectory)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(self), to: path)
    }

    /// The evaluation's fields at the top level of the file, beside `settings`.
    enum Key: String, CodingKey { case settings }
    public init(from decoder: Decoder) throws {
        name = ""
        settings = try decoder.container(keyedBy: Key.self).decode([String].self, forKey: .settings)
        evaluation = try StreamRunner.Evaluation(from: decoder)
    }
    public func encode(to encoder: Encoder) throws {
        try evaluation.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(settings, forKey: .settings)
    }
}
