import ArgumentParser
import Foundation
import LifelongFormats
import LifelongLearning

/// Re-scores a run's trained model with other evaluation settings — SLM's oracle-task or
/// per-batch retrieval on the very slots the run trained, another decoding — without training
/// again. The result goes to `<run>/evaluations/<name>.json`; nothing else of the run changes.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a run's latest checkpoint on its stream with other evaluation settings.",
        discussion: """
            Only keys that act at evaluation may be set: evaluation.decoding, evaluation.batch_size, \
            evaluation.top_k and the method's own (SLM: method.oracle_task, method.retrieval). \
            Example: lifelong evaluate runs/intents-slm --set method.oracle_task=true
            """)

    @Argument(help: "The run directory (runs/<name>).") var runDirectory: String
    @Option(name: .customLong("set"), help: "An evaluation setting, e.g. --set method.oracle_task=true (repeatable).")
    var overrides: [String] = []
    @Option(help: "The result's name: <run>/evaluations/<name>.json (default: from the settings, e.g. oracle_task-true).")
    var name: String?
    @Flag(help: "Replace an evaluation of the same name.") var overwrite = false
    @OptionGroup var compute: ComputeOptions

    /// `method.oracle_task=true` → `oracle_task-true`; several joined by `_`.
    var resultName: String {
        if let name { return name }
        guard !overrides.isEmpty else { return "default" }
        return overrides.map { override in
            let parts = override.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let label = "\(parts[0].split(separator: ".").last ?? "")-\(parts.count > 1 ? parts[1] : "")"
            return String(label.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "-" })
        }.joined(separator: "_")
    }

    func validate() throws {
        let result = resultName
        guard !result.isEmpty, !result.contains("/"), !result.hasPrefix("."), result.count <= 200 else {
            throw ValidationError("--name '\(result)' must be a plain file name")
        }
    }

    func run() throws {
        try compute.apply()
        let configPath = (runDirectory as NSString).appendingPathComponent("config.yaml")
        let text = try UserFile.text(configPath)
        let trained = try RunConfig(yaml: text, source: configPath)
        let settings = try RunConfig(yaml: text, overrides: overrides, source: configPath)
        if let difference = try settings.trainingDifference(from: trained) {
            throw ValidationError("--set changes \(difference), which the run trained with; evaluate sets only evaluation.decoding, "
                                  + "evaluation.batch_size, evaluation.top_k and the method's evaluation keys")
        }
        let lock = try RunDirectoryLock(runDirectory: runDirectory)  // not while the run trains
        defer { withExtendedLifetime(lock) {} }
        let output = SavedEvaluation.path(of: resultName, in: runDirectory)
        if FileManager.default.fileExists(atPath: output) && !overwrite {
            throw ValidationError("\(output) exists; choose another --name or replace it with --overwrite")
        }
        let stream = try ConfiguredRun.stream(of: settings)
        let (model, base) = try ConfiguredRun.startingModel(of: settings)
        var method = settings.method.makeMethod()
        let evaluation = try Lifelong.onTerminal(ConfiguredRun(settings, directory: runDirectory)).runner().evaluate(&method, stream: stream, model: model, tokenizer: TaskTokenizer(base: base), modelName: settings.model)
        try SavedEvaluation(name: resultName, settings: overrides, evaluation: evaluation).write(to: runDirectory)
        print(String(format: "mean %.2f over %d tasks (checkpoint %@)", evaluation.average, evaluation.tasks.count, evaluation.checkpoint))
        if let run = evaluation.runScores {
            print(String(format: "the run's own evaluation of these weights: mean %.2f", run.reduce(0, +) / Double(max(run.count, 1))))
        }
        print("Results: \(output)")
    }
}
