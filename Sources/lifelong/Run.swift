import ArgumentParser
import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a method over a task stream as a YAML config describes; results go to runs/<name>/.")

    @Argument(help: "The YAML config (see RunConfig for the keys).") var config: String
    @Option(name: .customLong("set"), help: "Override a config key, e.g. --set method.sample_ratio=0.05 (repeatable).")
    var overrides: [String] = []
    @Option(help: "Parent directory of the run directory.") var runs = "runs"
    @Flag(help: "Continue the run from its last checkpoint (same config and --set options).") var resume = false
    @Flag(help: "Replace an existing run of the same name (its checkpoints, log, samples and teachers are deleted).") var overwrite = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        try compute.apply()
        let text = try UserFile.text(config)
        let settings = try RunConfig(yaml: text, overrides: overrides, source: config)
        do {
            let (results, directory) = try Lifelong.execute(settings, runs: runs, resume: resume, overwrite: overwrite)
            if let m = results.metrics {
                let d = results.lowerIsBetter ? "%.3f" : "%.2f"
                print(String(format: "ACC \(d)  BWT \(d)  FWT \(d)  forgetting \(d)  learning accuracy \(d)", m.acc, m.bwt ?? .nan,
                             m.fwt ?? .nan, m.forgetting ?? .nan, m.learningAcc)
                      + (results.lowerIsBetter ? "  (held-out NLL per token: lower is better; BWT and forgetting > 0 are forgetting)" : ""))
            } else {
                print(String(format: "ACC %.2f", results.finalAverage))
            }
            print("Results: \(directory)/results.json")
        } catch let stop as RunInterrupted {
            let options = overrides.map { "--set '\($0)' " }.joined() + (runs == "runs" ? "" : "--runs \(runs) ")
            print("\(stop.description)\nContinue with: lifelong run \(config) \(options)--resume")
            throw ExitCode(130)
        }
    }
}

extension Lifelong {
    /// Runs a config in `<runs>/<name>/` (the library's `ConfiguredRun`) with the terminal's
    /// progress display and Ctrl-C as a stop request.
    static func execute(_ config: RunConfig, runs: String, resume: Bool, overwrite: Bool) throws -> (StreamRunner.Results, String) {
        let run = onTerminal(ConfiguredRun(config, runs: runs))
        return (try run.execute(resume: resume, overwrite: overwrite), run.directory)
    }

    /// `run` with its progress on the terminal and Ctrl-C as its stop request.
    static func onTerminal(_ run: ConfiguredRun) -> ConfiguredRun {
        var run = run
        let config = run.config, display = ProgressDisplay(epochs: config.training.epochs), interrupt = InterruptRequest()
        run.report = display.handle
        run.shouldStop = { interrupt.isRequested }
        return run
    }
}

/// Generation from a run's latest checkpoint: what has the model learnt to write?
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a prompt with a run's latest checkpoint; special tokens (__ans__, __TASK__) may be written by name.")
    @Argument(help: "The run directory (runs/<name>).") var runDirectory: String
    @Option(help: "The prompt, e.g. '__sst__' for a LAMOL^TASK pseudo-sample or 'a review __ans__' for an answer.") var prompt: String
    @Option(parsing: .unconditional, help: "Maximum number of new tokens.") var maxTokens = 64
    @Option(parsing: .unconditional, help: "Sample from the k most likely tokens (default: greedy).") var topK: Int?
    @Option(parsing: .unconditional, help: "Number of continuations.") var count = 1
    @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Continue with low-rank slot J alone at weight 1 (SLM; what one adapter of a peft export adds).")
    var slot: Int?
    @Flag(help: "Print one JSON line per continuation: prompt_ids, output_ids, text and the next-token logits after the prompt.")
    var json = false
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        try validateSampling(topK: topK, topP: nil, temperature: nil)
        guard (1...1_000_000).contains(maxTokens) else { throw ValidationError("--max-tokens must be in 1…1000000, not \(maxTokens)") }
        guard (1...4096).contains(count) else { throw ValidationError("--count must be in 1…4096, not \(count)") }
    }

    func run() throws {
        try compute.apply()
        let configPath = (runDirectory as NSString).appendingPathComponent("config.yaml")
        let text = try UserFile.text(configPath)
        let config = try RunConfig(yaml: text, source: configPath)
        let (model, base) = try ConfiguredRun.startingModel(of: config)
        let tokenizer = TaskTokenizer(base: base)
        // With --json, standard output holds the JSON lines only; what is said about the checkpoint goes to standard error.
        let say: (String) -> Void = json ? { FileHandle.standardError.write(Data(($0 + "\n").utf8)) } : { print($0) }
        let state = try RunCheckpoints(runDirectory: runDirectory).restoreLatest(into: model, tokenizer: tokenizer) { say("Note: \($0)") }
        say("Checkpoint: stage \(state.stage + 1), step \(state.stepsDone); special tokens: \(tokenizer.specialNames.joined(separator: " "))")
        let slots = model.lowRankMixtureLayers.first?.slotCount ?? 0
        if let slot, !(0..<slots).contains(slot) {
            throw ValidationError("--slot \(slot): this run's model has \(slots) low-rank slots\(slots == 0 ? "" : " (0…\(slots - 1))")")
        }
        if slots > 0 && slot == nil && !json {
            print("Note: this run's low-rank slots (SLM) are off here: `sample` does not retrieve, it continues with the backbone alone (--slot J adds one).")
        }
        let ids = tokenizer.encodeWithSpecialNames(prompt)
        guard !ids.isEmpty else { throw ValidationError("the prompt is empty") }
        try checkGenerationFits(model, promptLength: ids.count, maxTokens: maxTokens, count: count)
        let weights = slot.map { j in (0..<slots).map { Float($0 == j ? 1 : 0) } } ?? []
        let conditioning = Conditioning(slotWeights: Array(Array(repeating: weights, count: count).joined()))
        let outputs = try model.generate(prompts: Array(repeating: ids, count: count), options: GenerationOptions(
            maxNewTokens: maxTokens, strategy: topK.map { .sample(topK: $0) } ?? .greedy, stopTokens: [tokenizer.endOfExampleToken()], seed: seed),
            conditioning: conditioning)
        guard json else {
            for output in outputs { print(prompt + tokenizer.decode(output, showingEndOfText: true)) }
            return
        }
        let logits = noGrad { model.logits(TokenBatch(rows: [ids]), conditioning: Conditioning(slotWeights: weights)) }.scalars
        let vocabulary = model.config.vocabSize
        for output in outputs {
            let object: [String: Any] = ["prompt_ids": ids, "output_ids": output, "text": tokenizer.decode(output, showingEndOfText: true),
                                         "logits": logits[(logits.count - vocabulary)...].map(Double.init)]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
        }
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report",
        abstract: "Write report.md and a self-contained report.html comparing runs.")
    @Argument(help: "Run directories (each with results.json), or folders holding them (a sweep's).") var runs: [String]
    @Option(help: "Where to write the report.") var out = "report"

    func run() throws {
        let directories = try runs.flatMap { path -> [String] in
            let found = Report.runDirectories(under: path)
            guard !found.isEmpty else {
                throw FormatError(file: (path as NSString).appendingPathComponent("results.json"),
                                  "missing, and no run directory (one with results.json) below \(path)")
            }
            return found
        }
        let report = try Report(runDirectories: directories)
        try report.write(to: out)
        for problem in report.broken { print("skipped (could not be read): \(problem)") }
        print("\(out)/report.md, \(out)/report.html (\(report.runs.count) run\(report.runs.count == 1 ? "" : "s"))")
    }
}
