import Foundation
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

/// The code of the DocC article "Running a config from Swift"
/// (`Sources/LifelongLearning/LifelongLearning.docc/RunningAConfigFromSwift.md`), as a test, so that
/// the article cannot drift from the API.
@Suite struct LibraryUsageTests {
    @Test func aConfigRunsFromSwiftWithoutTheCommandLine() throws {
        let directory = NSTemporaryDirectory() + "library-usage-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }

        // 1. The config: YAML text, with --set-style overrides.
        let yaml = """
        name: synthetic-lamol
        model: scratch
        scratch: {architecture: gpt2, hidden: 32, layers: 2, heads: 2, positions: 128}
        stream: synthetic
        method: {name: lamol, prompting: task, sample_ratio: 0.25}
        training: {learning_rate: 1.0e-3, epochs: 1, tokens_per_batch: 256, max_length: 64}
        """
        let config = try RunConfig(yaml: yaml, overrides: ["seed=3"], source: "inline")

        // 2. The stream: the demo's generated tasks (a built-in stream or task directories otherwise).
        let stream = SyntheticTasks.demoStream(train: 40, test: 6, seed: config.seed)

        // 3. The model and its tokenizer: a byte-level GPT-2 from scratch.
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        let model = DecoderLM(config: DecoderConfig(architecture: .gpt2, vocabSize: tokenizer.vocabularySize,
                                                    hiddenSize: config.scratch.hidden, layerCount: config.scratch.layers,
                                                    headCount: config.scratch.heads, maxPositions: config.scratch.positions),
                              seed: config.seed)

        // 4. The method the config names, and the runner that writes the run directory.
        var method = config.method.makeMethod()
        var runner = StreamRunner(settings: config.training, seed: config.seed, runDirectory: directory + "/" + config.name)
        runner.report = { _ in }  // progress events; the command line prints them
        let results = try runner.run(&method, stream: stream, model: model, tokenizer: tokenizer, modelName: config.model)

        #expect(results.matrix.count == 3 && results.metrics != nil && results.complete == true)
        #expect(FileManager.default.fileExists(atPath: directory + "/synthetic-lamol/results.json"))
    }

    /// The article's first section: the whole config in one call, as `lifelong run` does it.
    @Test func aConfigRunsInOneCall() throws {
        let runs = NSTemporaryDirectory() + "library-one-call-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: runs) }
        let yaml = """
        name: synthetic-finetune
        model: scratch
        scratch: {architecture: qwen2, hidden: 32, layers: 1, heads: 2, positions: 128}
        stream: synthetic
        subsample: {train: 20, test: 4}
        method: {name: finetune}
        training: {learning_rate: 1.0e-3, epochs: 1, tokens_per_batch: 256, max_length: 64}
        """
        let config = try RunConfig(yaml: yaml, source: "inline")
        var run = ConfiguredRun(config, runs: runs)
        run.report = { _ in }
        let results = try run.execute()
        #expect(results.matrix.count == 3 && results.complete == true)
        #expect(FileManager.default.fileExists(atPath: runs + "/synthetic-finetune/config.yaml"))
        #expect(throws: RequestError.self, "a second start refuses the existing run") { try run.execute() }
        #expect(try run.execute(resume: true).matrix == results.matrix, "a finished run resumes to its results")
    }
}
