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
    /// Runs a config in `<runs>/<name>/`: takes the directory's lock, refuses a directory that holds
    /// a run unless resuming or overwriting, checks a resumed config against the saved one, writes
    /// `config.yaml` once the stream and the model have loaded, and runs the method.
    static func execute(_ settings: RunConfig, runs: String, resume: Bool, overwrite: Bool) throws -> (StreamRunner.Results, String) {
        let directory = (runs as NSString).appendingPathComponent(settings.name)
        let savedConfig = (directory as NSString).appendingPathComponent("config.yaml")
        guard !(resume && overwrite) else { throw ValidationError("--resume and --overwrite exclude each other") }
        let lock = try RunDirectoryLock(runDirectory: directory)
        defer { withExtendedLifetime(lock) {} }
        let holdsRun = ["config.yaml", "checkpoints", "results.json"].contains {
            FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent($0))
        }
        if holdsRun && !resume && !overwrite {
            throw ValidationError("\(directory) already holds a run; continue it with --resume, or replace it with --overwrite")
        }
        if resume {
            guard let saved = try? UserFile.text(savedConfig) else {
                throw ValidationError("--resume: \(savedConfig) not found; there is no run to resume")
            }
            if let difference = try settings.difference(from: RunConfig(yaml: saved, source: savedConfig)) {
                throw ValidationError("--resume: the config differs from \(savedConfig) at \(difference); resume with the same config and --set options")
            }
        }
        let stream = try loadStream(settings)
        print("Stream: " + stream.map { "\($0.name) (\($0.train.count)/\($0.test.count))" }.joined(separator: " → "))
        let (model, base) = try loadModel(settings)
        // Written once the stream and the model have loaded: a start that fails leaves no config behind.
        try writeAtomically(Data(try settings.yaml.utf8), to: savedConfig)
        var runner = try makeRunner(settings, directory: directory)
        runner.resume = resume
        runner.checkpointEvery = settings.checkpointEvery
        if let fewShot = settings.evaluation.fewShot {
            let loader = try DatasetLoader(root: settings.data)
            runner.evaluation.fewShotTasks = try fewShot.tasks.map { try loader.load($0) }
            runner.evaluation.fewShotShots = fewShot.shots; runner.evaluation.fewShotExamples = fewShot.examples
        }
        var method = settings.method.makeMethod()
        let results = try runner.run(&method, stream: stream, model: model, tokenizer: TaskTokenizer(base: base), modelName: settings.model,
                                     startingModel: { try loadModel(settings).0 })
        return (results, directory)
    }

    /// A runner for `settings` in `directory`: progress on the terminal, Ctrl-C as a stop request,
    /// the model file for the provenance, the evaluation's decoding.
    static func makeRunner(_ settings: RunConfig, directory: String) throws -> StreamRunner {
        var runner = StreamRunner(settings: settings.training, seed: settings.seed, runDirectory: directory)
        let display = ProgressDisplay(epochs: settings.training.epochs), interrupt = InterruptRequest()
        runner.report = display.handle
        runner.shouldStop = { interrupt.isRequested }
        if settings.model != "scratch" { runner.modelFile = try weightsFile(of: settings.model) }
        runner.evaluation.batchSize = settings.evaluation.batchSize
        if settings.evaluation.decoding == .topK { runner.evaluation.strategy = .sample(topK: settings.evaluation.topK) }
        return runner
    }

    static func loadStream(_ config: RunConfig) throws -> [TaskData] {
        var opened: DatasetLoader?
        func loader() throws -> DatasetLoader {  // opened on first use: the synthetic stream needs no data
            if opened == nil { opened = try DatasetLoader(root: config.data) }
            return opened!
        }
        var tasks: [TaskData] = []
        for entry in config.stream {
            if entry == SyntheticTasks.streamName {
                tasks += SyntheticTasks.demoStream()
            } else if BuiltInStreams.names.contains(entry) {
                tasks += try BuiltInStreams.load(entry, loader: loader(), seed: config.seed)
            } else if FileManager.default.fileExists(atPath: (entry as NSString).appendingPathComponent("train.jsonl")) {
                tasks.append(try TaskDirectory.read(entry))
            } else {
                do { tasks.append(try loader().load(entry)) } catch let error as FormatError where error.file == entry {
                    throw FormatError(file: "stream", "'\(entry)' is neither a task directory (with train.jsonl), a built-in stream "
                                      + "(\(BuiltInStreams.names.sorted().joined(separator: ", "))) nor a data source: \(error.message)")
                }
            }
        }
        guard !tasks.isEmpty else { throw ValidationError("the stream is empty") }
        return tasks.map { $0.subsampled(train: config.subsampleTrain, test: config.subsampleTest, seed: config.seed) }
    }

    /// The model a run starts from (before any training), and its base tokenizer.
    static func loadModel(_ config: RunConfig) throws -> (DecoderLM, any Tokenizer) {
        if config.model == "scratch" {
            let s = config.scratch
            guard let architecture = DecoderFamilies.named(s.architecture)?.architecture else {
                throw ValidationError("scratch.architecture must be one of \(DecoderFamilies.names), not '\(s.architecture)'")
            }
            let tokenizer = ByteTokenizer()
            let decoderConfig = DecoderConfig(architecture: architecture, vocabSize: tokenizer.vocabularySize, hiddenSize: s.hidden,
                                              layerCount: s.layers, headCount: s.heads, maxPositions: s.positions)
            try decoderConfig.validate()
            try MemoryLimit.require(decoderConfig.trainingBytes, for: "training a \(decoderConfig.parameterCount)-parameter scratch model",
                                    file: "scratch")
            return (DecoderLM(config: decoderConfig, seed: config.seed), tokenizer)
        }
        let option = try ModelOption.parse(["--model", config.model])
        return try option.load(forTraining: true)
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
        let (model, base) = try Lifelong.loadModel(config)
        let tokenizer = TaskTokenizer(base: base)
        let state = try RunCheckpoints(runDirectory: runDirectory).restoreLatest(into: model, tokenizer: tokenizer) { print("Note: \($0)") }
        print("Checkpoint: stage \(state.stage + 1), step \(state.stepsDone); special tokens: \(tokenizer.specialNames.joined(separator: " "))")
        if !model.lowRankMixtureLayers.isEmpty {
            print("Note: this run's low-rank slots (SLM) are off here: `sample` does not retrieve, it continues with the backbone alone.")
        }
        let ids = tokenizer.encodeWithSpecialNames(prompt)
        guard !ids.isEmpty else { throw ValidationError("the prompt is empty") }
        try checkGenerationFits(model, promptLength: ids.count, maxTokens: maxTokens, count: count)
        let outputs = try model.generate(prompts: Array(repeating: ids, count: count), options: GenerationOptions(
            maxNewTokens: maxTokens, strategy: topK.map { .sample(topK: $0) } ?? .greedy, stopTokens: [tokenizer.endOfExampleToken()], seed: seed))
        for output in outputs { print(prompt + tokenizer.decode(output, showingEndOfText: true)) }
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
