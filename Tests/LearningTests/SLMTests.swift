import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

/// SLM: keys that retrieve their task, a frozen backbone, retrieval statistics.
@Suite(.serialized) struct SLMTests {
    /// Three topics as clusters around random centres in a 384-dimensional space (6 groups):
    /// keys trained on each topic's queries alone retrieve the true topic for every held-out query.
    @Test func keysOfSeparatedTopicsRetrieveTheirTask() throws {
        let width = 384, groups = 6, slots = 4
        var rng = SeededGenerator(seed: 11)
        let centres = (0..<3).map { _ in (0..<width).map { _ in rng.nextGaussian() } }
        func queries(_ topic: Int, _ count: Int) -> [Float] {
            (0..<count).flatMap { _ in centres[topic].map { $0 + 0.8 * rng.nextGaussian() } }
        }
        let settings = SLM.KeySettings()
        var keys: [Float] = []
        for topic in 0..<3 {
            keys += try SLMRetrieval.trainKeys(queries: queries(topic, 60), width: width, slots: slots, settings: settings,
                                               groups: groups, topK: 2, seed: UInt64(topic), shouldStop: { false })
        }
        for topic in 0..<3 {
            let heldOut = queries(topic, 40)
            let similarity = groupedCosineSimilarity(queries: heldOut, keys: Tensor(keys, shape: [3 * slots, width]), groups: groups).scalars
            for n in 0..<40 {
                let row = similarity[(n * 3 * slots)..<((n + 1) * 3 * slots)]
                let top = SLMRetrieval.topIndices(row, among: 0..<(3 * slots), count: 1)[0]
                #expect(top / slots == topic, "query \(n) of topic \(topic) retrieved a slot of topic \(top / slots)")
            }
        }
    }

    @Test func mixtureWeightsAreTheNormalisedTopK() {
        let w = SLMRetrieval.weights(similarity: [0.1, 0.6, 0.2, 0.3], candidates: 0..<4, topK: 2, slotCount: 4)
        #expect(w == [0, 0.6 / 0.9, 0, 0.3 / 0.9])
        let own = SLMRetrieval.weights(similarity: [0.9, 0.8, 0.2, 0.3], candidates: 2..<4, topK: 2, slotCount: 4)
        #expect(own[0] == 0 && own[1] == 0 && abs(own[2] + own[3] - 1) < 1e-6, "retrieval restricted to the candidates")
    }

    /// A stream with a small Llama: only slots train (the backbone is bit-identical afterwards),
    /// every test example is counted once in the retrieval confusion, and results.json says so.
    @Test func aStreamLeavesTheBackboneUntouchedAndRecordsRetrieval() throws {
        try requireEncoder()
        let stream = SyntheticTasks.demoStream(train: 40, test: 6, seed: 8)
        let model = DecoderLM(config: DecoderConfig(architecture: .llama, vocabSize: ByteTokenizer().vocabularySize, hiddenSize: 32,
                                                    layerCount: 2, headCount: 2, maxPositions: 64), seed: 3)
        let backbone = model.namedParameters.map { ($0.name, $0.tensor.scalars) }
        var settings = TrainingSettings()
        settings.epochs = 1; settings.learningRate = 3e-3; settings.maxLength = 48; settings.tokensPerBatch = 160
        var slmSettings = SLM.Settings()
        slmSettings.separator = "="
        var method = SLM(settings: slmSettings)
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        let results = try StreamRunner(settings: settings, seed: 5, runDirectory: nil).run(&method, stream: stream, model: model, tokenizer: tokenizer, modelName: "tiny")
        #expect(tokenizer.specialId("__ans__") == nil && tokenizer.answerToken() == Int(UInt8(ascii: "=")), "answers marked by the base token")
        #expect(model.config.vocabSize == ByteTokenizer().vocabularySize, "no vocabulary row added")
        let after = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.tensor.scalars) })
        for (name, values) in backbone { #expect(after[name] == values, "\(name) changed") }
        #expect(model.lowRankMixtureLayers.count == 2 && model.lowRankMixtureLayers.allSatisfy { $0.slotCount == 12 })
        // Training mixes the top 2 of a task's 4 slots per example: at least 2 of each task's train.
        let trained = model.lowRankMixtureLayers[0].a.map { a in a.scalars.contains { $0 != 0 } }
        for task in 0..<3 { #expect(trained[(task * 4)..<(task * 4 + 4)].filter { $0 }.count >= 2, "task \(task)'s slots trained") }

        guard case let .object(retrieval)? = results.methodStatistics?["retrieval"],
              case let .array(rows)? = retrieval["confusion"] else { Issue.record("no retrieval record"); return }
        let counts = rows.map { row -> Int in
            guard case let .array(cells) = row else { return -1 }
            return cells.reduce(0) { if case let .number(x) = $1 { return $0 + Int(x) } else { return $0 } }
        }
        #expect(counts == [6, 6, 6], "each test example counted once in the final evaluation")
    }

    /// The oracle ablation, and `StreamRunner.evaluate` on a finished run: re-evaluating the
    /// checkpoint with the run's settings gives the run's last evaluation again (its scores and
    /// answers), writes nothing into the run; the oracle uses only the true task's slots (a
    /// diagonal confusion), retrieval over the same slots counts every test example once.
    @Test func aCheckpointIsReEvaluatedWithTheOracleAndWithRetrieval() throws {
        try requireEncoder()
        let stream = SyntheticTasks.demoStream(train: 30, test: 6, seed: 8)
        let config = DecoderConfig(architecture: .llama, vocabSize: ByteTokenizer().vocabularySize, hiddenSize: 32,
                                   layerCount: 2, headCount: 2, maxPositions: 64)
        var settings = TrainingSettings()
        settings.epochs = 2; settings.learningRate = 3e-2; settings.maxLength = 48; settings.tokensPerBatch = 160
        var oracle = SLM.Settings()
        oracle.separator = "="; oracle.oracleTask = true
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slm-oracle-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let runner = StreamRunner(settings: settings, seed: 5, runDirectory: directory)
        var method = SLM(settings: oracle)
        let results = try runner.run(&method, stream: stream, model: DecoderLM(config: config, seed: 3),
                                     tokenizer: TaskTokenizer(base: ByteTokenizer()), modelName: "tiny")
        func files() -> [String: Data] {
            let names = (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String]) ?? []
            return Dictionary(uniqueKeysWithValues: names.compactMap { name in
                FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent(name)).map { (name, $0) }
            })
        }
        let before = files()
        func evaluate(_ slm: SLM.Settings) throws -> (StreamRunner.Evaluation, confusion: [[Double]], mode: String) {
            var method = SLM(settings: slm)
            let evaluation = try runner.evaluate(&method, stream: stream, model: DecoderLM(config: config, seed: 3),
                                                 tokenizer: TaskTokenizer(base: ByteTokenizer()), modelName: "tiny")
            guard case let .object(record)? = evaluation.methodStatistics?["retrieval"], case let .array(rows)? = record["confusion"],
                  case let .string(mode)? = record["mode"] else { throw FormatError(file: "test", "no retrieval record") }
            let confusion = rows.map { row -> [Double] in
                guard case let .array(cells) = row else { return [] }
                return cells.map { $0.number ?? -1 }
            }
            return (evaluation, confusion, mode)
        }
        let (again, oracleConfusion, oracleMode) = try evaluate(oracle)
        #expect(again.scores == results.matrix.last! && again.runScores == results.matrix.last!)
        #expect(again.predictions == results.finalPredictions!, "the checkpoint's weights and slots give the run's answers")
        #expect(!again.predictions.values.joined().allSatisfy { $0[0].isEmpty }, "the answers compared are not all empty")
        #expect(again.stagesDone == 3 && again.stageCount == 3 && again.checkpoint.hasPrefix("stage3"))
        #expect(oracleMode == "oracle_task" && oracleConfusion == [[6, 0, 0], [0, 6, 0], [0, 0, 6]], "the true task's slots only")
        var retrieved = oracle
        retrieved.oracleTask = false
        let (_, confusion, mode) = try evaluate(retrieved)
        #expect(mode == "per_example" && confusion.map { $0.reduce(0, +) } == [6, 6, 6], "every test example counted once")
        #expect(files() == before, "evaluation writes nothing into the run directory")

        // Saved, the evaluations read back by name and appear in the report beside the run's own row.
        try SavedEvaluation(name: "oracle_task-true", settings: ["method.oracle_task=true"], evaluation: again).write(to: directory)
        let saved = try SavedEvaluation.all(in: directory)
        #expect(saved.map(\.name) == ["oracle_task-true"] && saved[0].evaluation.scores == again.scores)
        let markdown = try Report(runDirectories: [directory]).markdown()
        let oracleRow = "| oracle_task-true | method.oracle_task=true | " + again.scores.map { String(format: "%.1f", $0) }.joined(separator: " | ")
        #expect(markdown.contains("### Re-evaluations") && markdown.contains(oracleRow + " | "))
        #expect(markdown.contains(" | 100.0 |"), "the oracle's retrieval accuracy")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: SavedEvaluation.path(of: "broken", in: directory)))
        #expect { try Report(runDirectories: [directory]) } throws: { "\($0)".contains("evaluations/broken.json") }
    }
}
