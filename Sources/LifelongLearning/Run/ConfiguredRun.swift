import Foundation
import LifelongFormats
import LifelongModels

/// A run config made into a run: its stream loaded, its starting model built or loaded, its
/// runner set up, and the run executed in `<runs>/<name>/` with the run directory's rules. The
/// composition root of the library: a Swift program runs a config with
///
///     let config = try RunConfig(yaml: text, source: "my.yaml")
///     let results = try ConfiguredRun(config, runs: "runs").execute()
///
/// and the CLI adds only its terminal (progress display, Ctrl-C as a stop request).
public struct ConfiguredRun {
    public let config: RunConfig
    /// `<runs>/<name>`.
    public let directory: String
    /// Progress; by default the runner's messages are printed.
    public var report: (RunEvent) -> Void = { if case let .message(line) = $0 { print(line) } }
    /// Polled during the run; true makes it checkpoint and throw `RunInterrupted`.
    public var shouldStop: () -> Bool = { false }

    /// The run of `config` in `<runs>/<name>`.
    public init(_ config: RunConfig, runs: String) {
        self.init(config, directory: (runs as NSString).appendingPathComponent(config.name))
    }

    /// The run of `config` in `directory` (an existing run's, which may have been renamed).
    public init(_ config: RunConfig, directory: String) {
        self.config = config; self.directory = directory
    }

    /// Runs the config: takes the directory's lock, refuses a directory that holds a run unless
    /// resuming or overwriting, checks a resumed config against the saved one, writes
    /// `config.yaml` once the stream and the model have loaded, and runs the method.
    public func execute(resume: Bool = false, overwrite: Bool = false) throws -> StreamRunner.Results {
        let savedConfig = (directory as NSString).appendingPathComponent("config.yaml")
        guard !(resume && overwrite) else { throw RequestError("--resume and --overwrite exclude each other") }
        let lock = try RunDirectoryLock(runDirectory: directory)
        defer { withExtendedLifetime(lock) {} }
        let holdsRun = ["config.yaml", "checkpoints", "results.json"].contains {
            FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent($0))
        }
        if holdsRun && !resume && !overwrite {
            throw RequestError("\(directory) already holds a run; continue it with --resume, or replace it with --overwrite")
        }
        if resume {
            guard let saved = try? UserFile.text(savedConfig) else {
                throw RequestError("--resume: \(savedConfig) not found; there is no run to resume")
            }
            if let difference = try config.difference(from: RunConfig(yaml: saved, source: savedConfig)) {
                throw RequestError("--resume: the config differs from \(savedConfig) at \(difference); resume with the same config and --set options")
            }
        }
        let stream = try Self.stream(of: config)
        report(.message("Stream: " + stream.map { "\($0.name) (\($0.train.count)/\($0.test.count))" }.joined(separator: " → ")))
        let (model, base) = try Self.startingModel(of: config)
        // Written once the stream and the model have loaded: a start that fails leaves no config behind.
        try writeAtomically(Data(try config.yaml.utf8), to: savedConfig)
        var runner = try runner()
        runner.resume = resume
        runner.checkpointEvery = config.checkpointEvery
        if let fewShot = config.evaluation.fewShot {
            let loader = try DatasetLoader(root: config.data)
            runner.evaluation.fewShotTasks = try fewShot.tasks.map { try loader.load($0) }
            runner.evaluation.fewShotShots = fewShot.shots; runner.evaluation.fewShotExamples = fewShot.examples
        }
        var method = config.method.makeMethod()
        let config = self.config
        return try runner.run(&method, stream: stream, model: model, tokenizer: TaskTokenizer(base: base), modelName: config.model,
                              startingModel: { try Self.startingModel(of: config).0 })
    }

    /// A runner for the config in the run directory: this run's progress and stop request, the
    /// model file for the provenance, the evaluation's decoding.
    public func runner() throws -> StreamRunner {
        var runner = StreamRunner(settings: config.training, seed: config.seed, runDirectory: directory)
        runner.report = report
        runner.shouldStop = shouldStop
        if config.model != "scratch" { runner.modelFile = try ModelSource.weightsFile(of: config.model) }
        runner.evaluation.batchSize = config.evaluation.batchSize
        if config.evaluation.decoding == .topK { runner.evaluation.strategy = .sample(topK: config.evaluation.topK) }
        return runner
    }

    /// The config's stream, each task subsampled as the config says.
    public static func stream(of config: RunConfig) throws -> [TaskData] {
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
        guard !tasks.isEmpty else { throw RequestError("the stream is empty") }
        return tasks.map { $0.subsampled(train: config.subsampleTrain, test: config.subsampleTest, seed: config.seed) }
    }

    /// The model a run starts from (before any training) and its base tokenizer: a scratch model
    /// of the config's family and sizes, or a model file, directory or pulled name.
    public static func startingModel(of config: RunConfig) throws -> (DecoderLM, any Tokenizer) {
        guard config.model == "scratch" else { return try ModelSource(config.model).decoderAndTokenizer() }
        let s = config.scratch
        guard let architecture = DecoderFamilies.named(s.architecture)?.architecture else {
            throw RequestError("scratch.architecture must be one of \(DecoderFamilies.names), not '\(s.architecture)'")
        }
        let tokenizer = ByteTokenizer()
        let decoderConfig = DecoderConfig(architecture: architecture, vocabSize: tokenizer.vocabularySize, hiddenSize: s.hidden,
                                          layerCount: s.layers, headCount: s.heads, maxPositions: s.positions)
        try decoderConfig.validate()
        try MemoryLimit.require(decoderConfig.trainingBytes, for: "training a \(decoderConfig.parameterCount)-parameter scratch model",
                                file: "scratch")
        return (DecoderLM(config: decoderConfig, seed: config.seed), tokenizer)
    }
}
