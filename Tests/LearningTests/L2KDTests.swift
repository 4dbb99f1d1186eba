import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

@Suite(.serialized) struct L2KDTests {
    let stream = SyntheticTasks.demoStream(train: 24, test: 6, seed: 3).map { $0 }

    var settings: TrainingSettings {
        var s = TrainingSettings()
        s.epochs = 2; s.learningRate = 3e-3; s.maxLength = 48; s.tokensPerBatch = 160
        return s
    }

    func makeModel() -> DecoderLM {
        DecoderLM(config: DecoderConfig(architecture: .gpt2, vocabSize: ByteTokenizer().vocabularySize, hiddenSize: 32,
                                        layerCount: 1, headCount: 2, maxPositions: 64), seed: 4)
    }

    /// With a teacher equal to the student the KD term is exactly 0, so the objective is the
    /// hard-label loss of the pseudo-samples alone, scaled by their share of the target weight.
    @Test func realItemsAreDistilledAndPseudoSamplesKeepTheHardLoss() throws {
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        _ = (tokenizer.answerToken(), tokenizer.taskToken("a"))
        let model = makeModel()
        model.addTokens(tokenizer.vocabularySize - model.config.vocabSize, seed: 1)
        let gen = tokenizer.taskToken("a")
        let real = stream[0].train.prefix(3).map { example -> TrainingItem in
            TrainingItem(qa: LAMOLSequences.qa(contextQuestion: tokenizer.encode(example.context), answer: tokenizer.encode(example.answers[0]),
                                                      ans: tokenizer.answerToken(), eos: tokenizer.endOfExampleToken()),
                                lm: LAMOLSequences.lm(contextQuestion: tokenizer.encode(example.context), answer: tokenizer.encode(example.answers[0]),
                                                      gen: gen, ans: tokenizer.answerToken(), eos: tokenizer.endOfExampleToken(), answerWeight: 5),
                         origin: .current)
        }
        var pseudo = Array(real.prefix(2))
        for i in pseudo.indices { pseudo[i].origin = .pseudo }
        let batch = TrainingBatch(real + pseudo, padToken: tokenizer.endOfExampleToken())

        let terms = L2KD.wordKDObjective(batch, model: model, teacher: model, temperature: 2, lmWeight: 0.25)
        #expect(terms.map(\.name) == ["qa_loss", "kd_qa_loss", "lm_loss", "kd_lm_loss"])
        for term in terms where term.name.hasPrefix("kd_") { #expect(term.value.item == 0, "\(term.name) = \(term.value.item)") }
        // The hard part is the cross-entropy of the pseudo rows alone, weighted by their share.
        let pseudoOnly = noGrad { TrainingBatch(pseudo, padToken: tokenizer.endOfExampleToken()).qa.crossEntropyLoss(model).item }
        let qa = terms[0]
        #expect(abs(qa.value.item - pseudoOnly) <= 1e-5 * abs(pseudoOnly))
        let weight = { (items: [TrainingItem]) in items.reduce(Float(0)) { s, item in
            s + zip(item.qa.targets, item.qa.weights).filter { $0.0 != LAMOLSequences.ignore }.map(\.1).reduce(0, +) } }
        #expect(abs(qa.weight - weight(pseudo) / weight(real + pseudo)) <= 1e-6)
        #expect(abs(terms[1].weight - weight(real) / weight(real + pseudo)) <= 1e-6)
        // `loss_combination: sum` (the official code's): the same two means, each counted once.
        let summed = L2KD.wordKDObjective(batch, model: model, teacher: model, temperature: 2, lmWeight: 0.25, combination: .sum)
        #expect(summed.map(\.name) == terms.map(\.name) && summed.map(\.weight) == [1, 1, 0.25, 0.25])
        #expect(zip(summed, terms).allSatisfy { $0.value.item == $1.value.item })
        // A batch of real items only has no hard term.
        let realOnly = L2KD.wordKDObjective(TrainingBatch(Array(real), padToken: tokenizer.endOfExampleToken()), model: model, teacher: model,
                                            temperature: 2, lmWeight: 0.25)
        #expect(realOnly.map(\.name) == ["kd_qa_loss", "kd_lm_loss"])
        // `distil_lm: false`: the LM sequences keep LAMOL's hard loss on every item, the QA ones are distilled.
        let qaOnly = L2KD.wordKDObjective(batch, model: model, teacher: model, temperature: 2, lmWeight: 0.25, distilsLM: false)
        #expect(qaOnly.map(\.name) == ["qa_loss", "kd_qa_loss", "lm_loss"])
        let lamolLM = noGrad { batch.lm!.crossEntropyLoss(model).item }
        #expect(abs(qaOnly[2].value.item - lamolLM) <= 1e-5 * abs(lamolLM) && qaOnly[2].weight == 0.25)
    }

    /// Three tasks with task tokens: each teacher has the learner's vocabulary (every id means the
    /// same in both); Seq-KD's items carry the teacher's greedy answers.
    @Test func teachersShareTheLearnersTokenIdsAndSeqKDUsesTheirAnswers() throws {
        let directory = NSTemporaryDirectory() + "l2kd-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        var runner = StreamRunner(settings: settings, seed: 2, runDirectory: directory)
        runner.report = { _ in }
        var method = L2KD(lamol: LAMOL(prompting: .task, sampleRatio: 0.25, maxSampleLength: 30), variant: .seq,
                          teacher: L2KD.TeacherSettings(epochs: 3))
        let model = makeModel()
        let results = try runner.run(&method, stream: stream, model: model, tokenizer: tokenizer, modelName: "tiny", startingModel: makeModel)
        #expect(model.config.vocabSize == tokenizer.vocabularySize)
        let records = try #require(results.methodStatistics?["teachers"])
        for (index, task) in stream.enumerated() {
            let file = try SafetensorsFile(path: "\(directory)/teachers/\(task.name)/model.safetensors")
            let rows = try #require(file.entry("transformer.wte.weight")?.shape.first)
            // ANS plus the task tokens seen so far: 257 bytes + 1 + (index + 1).
            #expect(rows == 257 + 1 + index + 1, "teacher of \(task.name) has \(rows) token rows")
            guard case let .array(list) = records, case let .object(record) = list[index] else { Issue.record("no record"); continue }
            #expect(record["answers"]?.number == Double(task.train.count))
            #expect(record["score"]?.number != nil)
        }

        // The last stage's items (saved as a mid-stage checkpoint would be) hold the teacher's answers.
        let last = stream[2]
        let file = try SafetensorsFile(path: "\(directory)/teachers/\(last.name)/model.safetensors")
        let grown = makeModel()
        grown.addTokens(file.entry("transformer.wte.weight")!.shape[0] - grown.config.vocabSize, seed: 0)
        try TensorCheckpoint(files: [file]).load(into: grown.namedParameters, optionalPrefix: "", ignoring: [])
        let example = last.train[0]
        let prompt = contextQuestionTokens(example, tokenizer: tokenizer, maxLength: 40) + [tokenizer.answerToken()]
        let longest = last.train.flatMap(\.answers).map { tokenizer.encode($0).count }.max()!
        let answer = try grown.generate(prompts: [prompt], options: GenerationOptions(maxNewTokens: longest + 2, stopTokens: [tokenizer.endOfExampleToken()]))[0]
        var context = StageContext(index: 2, stream: stream, model: model, tokenizer: tokenizer, settings: settings, seed: 2 &+ 2)
        context.runDirectory = directory
        context.startingModel = makeModel
        var again = L2KD(lamol: LAMOL(prompting: .task, sampleRatio: 0, maxSampleLength: 30), variant: .seq, teacher: L2KD.TeacherSettings(epochs: 3))
        let plan = try again.planStage(context)  // reuses the saved teacher
        let expected = LAMOLSequences.qa(contextQuestion: Array(prompt.dropLast()), answer: answer.isEmpty ? tokenizer.encode(example.answers[0]) : answer,
                                         ans: tokenizer.answerToken(), eos: tokenizer.endOfExampleToken())
        #expect(plan.items[0].qa == expected, "Seq-KD's first item answers with the teacher's greedy answer")

        // `teacher.keep: false` with `from`: the user's teachers are loaded and never deleted.
        let files = { (folder: String) in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() }
        let before = try files("\(directory)/teachers")
        let loading = directory + "-from"
        defer { try? FileManager.default.removeItem(atPath: loading) }
        var fromRun = StreamRunner(settings: settings, seed: 2, runDirectory: loading)
        fromRun.report = { _ in }
        var fromMethod = L2KD(lamol: LAMOL(prompting: .task, sampleRatio: 0.25, maxSampleLength: 30), variant: .seq,
                              teacher: L2KD.TeacherSettings(from: "\(directory)/teachers", keep: false))
        _ = try fromRun.run(&fromMethod, stream: stream, model: makeModel(), tokenizer: TaskTokenizer(base: ByteTokenizer()),
                            modelName: "tiny", startingModel: makeModel)
        #expect(try files("\(directory)/teachers") == before && before.count == stream.count)
    }

    /// `teacher.keep: false`: a teacher is deleted when the next stage starts, so the run ends with
    /// the last task's teacher alone on disk, and every teacher's score is still reported.
    @Test func teachersNotKeptAreDeletedWhenTheNextStageStarts() throws {
        let directory = NSTemporaryDirectory() + "l2kd-keep-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var messages: [String] = []
        var runner = StreamRunner(settings: settings, seed: 5, runDirectory: directory)
        runner.report = { if case let .message(text) = $0 { messages.append(text) } }
        var method = L2KD(lamol: LAMOL(prompting: .task, sampleRatio: 0.25, maxSampleLength: 30), variant: .word,
                          teacher: L2KD.TeacherSettings(epochs: 1, keep: false))
        let results = try runner.run(&method, stream: stream, model: makeModel(), tokenizer: TaskTokenizer(base: ByteTokenizer()),
                                     modelName: "tiny", startingModel: makeModel)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/teachers") == [stream[2].name])
        #expect(messages.filter { $0.contains("deleted the teacher") } ==
                stream.prefix(2).map { "  l2kd: deleted the teacher of \($0.name) (method.teacher.keep: false)" })
        guard case let .array(records) = try #require(results.methodStatistics?["teachers"]) else { Issue.record("no teacher records"); return }
        #expect(records.count == stream.count)
        for case let .object(record) in records { #expect(record["score"]?.number != nil) }
    }
}
