import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

@Suite(.serialized) struct EndToEndTests {
    func tinyModel(_ tokenizer: TaskTokenizer, width: Int = 64, layers: Int = 2, positions: Int = 64) -> DecoderLM {
        DecoderLM(config: DecoderConfig(architecture: .gpt2, vocabSize: tokenizer.vocabularySize, hiddenSize: width,
                                        layerCount: layers, headCount: 4, maxPositions: positions), seed: 5)
    }

    /// The `tiny` stream (SST, two CLINC150 domains, MWSC from ../shared/data) through LAMOL^TASK:
    /// every stage evaluated on every task, files written, metrics consistent with the matrix.
    @Test func tinyStreamRunsEndToEnd() throws {
        let loader = try #require(DataTests.loader, "../shared/data not found")
        var stream = try BuiltInStreams.load("tiny", loader: loader, seed: 1)
        stream = stream.map { $0.subsampled(train: 24, test: 8, seed: 2) }
        #expect(stream.map(\.name) == ["sst", "clinc_banking", "clinc_travel", "mwsc"])
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        let model = tinyModel(tokenizer, positions: 320)
        var settings = TrainingSettings()
        settings.epochs = 1; settings.maxLength = 256; settings.tokensPerBatch = 2048; settings.learningRate = 1e-3
        let directory = NSTemporaryDirectory() + "tiny-run-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var method = LAMOL(prompting: .task, sampleRatio: 0.25, maxSampleLength: 48)
        var runner = StreamRunner(settings: settings, seed: 3, runDirectory: directory)
        var messages: [String] = []
        runner.report = { if case let .message(text) = $0 { messages.append(text) } }
        let results = try runner.run(&method, stream: stream, model: model, tokenizer: tokenizer, modelName: "tiny")

        #expect(results.matrix.count == 4 && results.matrix.allSatisfy { $0.count == 4 })
        #expect(results.matrix.joined().allSatisfy { $0 >= 0 && $0 <= 100 })
        let metrics = try #require(results.metrics)
        #expect(abs(metrics.acc - results.matrix[3].reduce(0, +) / 4) < 1e-9)
        #expect(results.pseudoSamples.count == 1 + 2 + 3)  // one batch per earlier task at tasks 2, 3, 4
        #expect(results.pseudoSamples.allSatisfy { $0.generated == $0.kept + $0.discarded.values.reduce(0, +) })
        // The log says how many pseudo-samples each batch kept, and why the others were discarded.
        let sampleLines = messages.filter { $0.contains("pseudo-samples of") }
        #expect(sampleLines == results.pseudoSamples.map { "  pseudo-samples of \($0.of): kept \($0.kept) of \($0.generated)"
            + ($0.discarded.isEmpty ? "" : " (discarded: " + $0.discarded.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")") })
        // Task tokens were added when their tasks started: 257 bytes (end-of-text is EOS) + ANS + 4 task tokens.
        #expect(model.config.vocabSize == 257 + 1 + 4 && tokenizer.specialId("__mwsc__") == 261)
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/results.json"))) as? [String: Any]
        #expect((saved?["matrix"] as? [[Double]]) == results.matrix)
        #expect((saved?["metrics"] as? [String: Any])?["bwt"] != nil)
        let log = try String(contentsOfFile: directory + "/log.jsonl", encoding: .utf8)
        #expect(log.split(separator: "\n").count >= 4 && log.contains("\"lm_loss\""))
        // Evaluations are events of the log (untrained + after each task), and the results say what wrote them.
        #expect(log.components(separatedBy: "\"event\":\"evaluation\"").count - 1 == 1 + 4)
        let start = try JSONSerialization.jsonObject(with: Data(log.split(separator: "\n")[0].utf8)) as? [String: Any]
        #expect(start?["event"] as? String == "start" && (start?["provenance"] as? [String: Any])?["commit"] != nil)
        let provenance = saved?["provenance"] as? [String: Any]
        #expect(provenance?["version"] as? String == Provenance.version && (provenance?["threads"] as? Int ?? 0) >= 1)
        #expect((provenance?["commit"] as? String)?.isEmpty == false && provenance?["blas"] != nil)
    }

    /// A stream with generation tasks records BLEU beside R for those tasks only (untrained row,
    /// one row per stage) in results.json, and the report shows it.
    @Test func generationTasksGetABleuMatrixBesideR() throws {
        var stream = SyntheticTasks.demoStream(train: 30, test: 6, seed: 2).prefix(3).map { $0 }
        stream[0].metric = .rougeL; stream[2].metric = .rougeL
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        var settings = TrainingSettings()
        settings.epochs = 1; settings.maxLength = 64; settings.tokensPerBatch = 512
        let directory = NSTemporaryDirectory() + "bleu-run-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var runner = StreamRunner(settings: settings, seed: 1, runDirectory: directory)
        runner.report = { _ in }
        var method = Finetune()
        let results = try runner.run(&method, stream: stream, model: tinyModel(tokenizer), tokenizer: tokenizer, modelName: "tiny")
        let bleu = try #require(results.secondaryScores?["bleu"])
        #expect(bleu.tasks == [stream[0].name, stream[2].name])
        #expect(bleu.baseline?.count == 2 && bleu.matrix.count == 3 && bleu.matrix.allSatisfy { $0.count == 2 })
        #expect(bleu.matrix.joined().allSatisfy { $0 >= 0 && $0 <= 100 })
        let saved = try JSONDecoder().decode(StreamRunner.Results.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/results.json")))
        #expect(saved.secondaryScores == results.secondaryScores)
        let report = try Report(runDirectories: [directory]).markdown()
        #expect(report.contains("bleu after the stream") && report.contains("bleu of the same predictions, laid out as R:"))
    }

    /// The commit in the provenance is the checkout's HEAD as it was built (the SourceCommit
    /// plugin), not read from `.git` when a run starts.
    @Test func theProvenanceNamesTheCommitTheBinaryWasBuiltFrom() throws {
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", URL(fileURLWithPath: #filePath).deletingLastPathComponent().path, "rev-parse", "HEAD"]
        let out = Pipe()
        git.standardOutput = out
        try git.run()
        git.waitUntilExit()
        let head = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(git.terminationStatus == 0 && head.count == 40, "not a git checkout")
        let commit = Provenance.current().commit
        #expect(commit == head || commit == head + "-dirty", "built from \(commit), HEAD is \(head) (rebuild after committing)")
    }

    /// Fine-tuning forgets the first task of a synthetic stream; LAMOL keeps it.
    @Test func lamolRepairsTheForgettingOfFinetune() throws {
        let stream = SyntheticTasks.demoStream(train: 250, test: 30, seed: 4).prefix(2).map { $0 }
        var settings = TrainingSettings()  // the demo's settings, on two tasks
        settings.learningRate = 1e-3; settings.warmupFraction = 0.05; settings.epochs = 4
        settings.tokensPerBatch = 192; settings.maxLength = 64
        func run<M: LifelongMethod>(_ method: inout M) throws -> StreamRunner.Results {
            let tokenizer = TaskTokenizer(base: ByteTokenizer())
            var runner = StreamRunner(settings: settings, seed: 9, runDirectory: nil)
            runner.report = { _ in }
            return try runner.run(&method, stream: stream, model: tinyModel(tokenizer, width: 128, layers: 4), tokenizer: tokenizer,
                                  modelName: "tiny")
        }
        var finetune = Finetune()
        var lamol = LAMOL(prompting: .task, sampleRatio: 0.25, maxSampleLength: 40)
        let f = try run(&finetune), l = try run(&lamol)
        #expect(f.matrix[0][0] >= 80, "the first task is learnt: \(f.matrix)")
        #expect(f.matrix[1][0] <= 20, "fine-tuning forgets it: \(f.matrix)")
        #expect(l.matrix[1][0] >= f.matrix[1][0] + 50, "LAMOL keeps it: \(l.matrix) vs \(f.matrix)")
        #expect(l.matrix[1][1] >= 80, "and learns the second task: \(l.matrix)")
    }

    @Test func multitaskTrainsOneStageOnTheUnion() throws {
        let stream = SyntheticTasks.demoStream(train: 40, test: 10, seed: 5).map { $0 }
        var settings = TrainingSettings()
        settings.epochs = 1; settings.learningRate = 1e-3; settings.maxLength = 64
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        var runner = StreamRunner(settings: settings, seed: 1, runDirectory: nil)
        runner.report = { _ in }
        var multitask = Multitask(lmLoss: true)
        let results = try runner.run(&multitask, stream: stream, model: tinyModel(tokenizer), tokenizer: tokenizer, modelName: "tiny")
        #expect(results.matrix.count == 1 && results.metrics == nil)
        #expect(abs(results.finalAverage - results.matrix[0].reduce(0, +) / 3) < 1e-9)
    }
}

@Suite struct EWCTests {
    /// Distance moved by the weights during task 2, from where task 1 left them.
    func drift(_ make: () -> any LifelongMethod) throws -> (distance: Double, penalty: Bool) {
        let stream = SyntheticTasks.demoStream(train: 48, test: 8, seed: 6).prefix(2).map { $0 }
        var settings = TrainingSettings()
        settings.epochs = 2; settings.learningRate = 3e-3; settings.maxLength = 64; settings.tokensPerBatch = 256
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        _ = (tokenizer.answerToken(), tokenizer.endOfExampleToken())  // special tokens first, then a model with rows for them
        let model = DecoderLM(config: DecoderConfig(architecture: .gpt2, vocabSize: tokenizer.vocabularySize, hiddenSize: 32,
                                                    layerCount: 1, headCount: 2, maxPositions: 64), seed: 2)
        var method = make()
        func context(_ index: Int) -> StageContext {
            StageContext(index: index, stream: stream, model: model, tokenizer: tokenizer, settings: settings, seed: 1)
        }
        let trainer = SequenceTrainer(settings: settings, padToken: tokenizer.endOfExampleToken())
        try trainer.train(model, items: method.planStage(context(0)).items, taskName: "a", seed: 1,
                          penalty: { [method] in method.penalty(model) })
        try method.finishStage(context(0))
        let anchor = model.parameters.map(\.scalars)
        var sawPenalty = false
        try trainer.train(model, items: method.planStage(context(1)).items, taskName: "b", seed: 2,
                          penalty: { [method] in method.penalty(model) }, onStep: { step, _ in
                              if (step.penalty ?? 0) > 0 { sawPenalty = true }
                              return true
                          })
        var squared: Double = 0
        for (now, before) in zip(model.parameters.map(\.scalars), anchor) {
            for (a, b) in zip(now, before) { squared += Double((a - b) * (a - b)) }
        }
        return (squared.squareRoot(), sawPenalty)
    }

    @Test func ewcKeepsTheWeightsNearThePreviousTask() throws {
        let free = try drift { Finetune() }
        let anchored = try drift { EWC(strength: 1e7) }
        #expect(!free.penalty && anchored.penalty)
        // Parameters the first task does not use (ω ≈ 0, e.g. embedding rows of unseen characters) move
        // freely under EWC too, so the total drift shrinks but does not vanish (measured: 0.53×).
        #expect(anchored.distance < 0.75 * free.distance, "EWC drift \(anchored.distance) vs fine-tune \(free.distance)")
    }
}
