import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

/// Continual pretraining on text corpora: the corpora, the text sequences, held-out NLL, the
/// metrics' sign convention for it, and few-shot rank classification.
@Suite struct CorpusTests {
    func tinyModel() -> DecoderLM {
        DecoderLM(config: DecoderConfig(architecture: .llama, vocabSize: ByteTokenizer().vocabularySize + 1, hiddenSize: 16,
                                        layerCount: 1, headCount: 2, maxPositions: 64), seed: 4)
    }

    /// log p of every token of `row` after the first, from one unpadded forward pass.
    func tokenLogProbabilities(_ model: DecoderLM, _ row: [Int]) -> [Double] {
        let logits = noGrad { model.logits(TokenBatch(rows: [row])) }.scalars, vocab = model.config.vocabSize
        return (0..<(row.count - 1)).map { t in
            let z = logits[(t * vocab)..<((t + 1) * vocab)].map(Double.init)
            let top = z.max()!
            return z[row[t + 1]] - top - log(z.map { exp($0 - top) }.reduce(0, +))
        }
    }

    @Test func aTextIsPredictedAfterALeadingEndToken() {
        let s = LAMOLSequences.text([7, 8, 9], eos: 2)
        #expect(s.tokens == [2, 7, 8, 9, 2])
        #expect(s.targets == [7, 8, 9, 2, LAMOLSequences.ignore])
    }

    /// The evaluator's batched, padded NLL equals the mean of per-token log-probabilities of
    /// each text scored alone.
    @Test func heldOutNLLIsTheMeanTokenLogLikelihood() {
        let model = tinyModel(), tokenizer = TaskTokenizer(base: ByteTokenizer())
        let eos = tokenizer.endOfExampleToken()
        let texts = ["a cat sat", "on the mat today", "x"]
        var evaluator = AnswerEvaluator(tokenizer: tokenizer)
        evaluator.batchSize = 2  // two batches, one padded
        let nll = evaluator.negativeLogLikelihood(model, texts: texts)
        let perToken = texts.flatMap { tokenLogProbabilities(model, [eos] + tokenizer.encode($0) + [eos]) }
        #expect(abs(nll - (-perToken.reduce(0, +) / Double(perToken.count))) < 1e-4)
    }

    /// Rank classification sums each candidate's token log-probabilities after the prompt; the
    /// prompt is read once into a KV cache that the candidates extend in one padded batch, which
    /// must not change any score (GPT-2's learnt positions and Llama's rotary ones, two layers).
    @Test(arguments: [DecoderConfig.Architecture.llama, .gpt2])
    func candidatesAreRankedByTheirLogLikelihood(_ architecture: DecoderConfig.Architecture) {
        let model = DecoderLM(config: DecoderConfig(architecture: architecture, vocabSize: ByteTokenizer().vocabularySize + 1,
                                                    hiddenSize: 16, layerCount: 2, headCount: 2, maxPositions: 64), seed: 4)
        let prompt = [10, 11, 12, 13, 14], candidates = [[20], [21, 22, 23], [24, 25], [26, 27, 28]]
        let scores = model.continuationLogLikelihoods(prompt: prompt, continuations: candidates)
        for (j, candidate) in candidates.enumerated() {
            let alone = tokenLogProbabilities(model, prompt + candidate).suffix(candidate.count).reduce(0, +)
            #expect(abs(scores[j] - alone) < 1e-4, "candidate \(j)")
        }
        let single = model.continuationLogLikelihoods(prompt: prompt, continuations: [[20], [30]])
        #expect(abs(single[0] - scores[0]) < 1e-6)
        // A batch budget that holds one candidate at a time: the same scores (thousands of labels
        // are scored in bounded memory).
        let grouped = model.continuationLogLikelihoods(prompt: prompt, continuations: candidates, batchBytes: 1)
        #expect(zip(grouped, scores).allSatisfy { abs($0 - $1) < 1e-5 }, "\(grouped) vs \(scores)")
    }

    /// Zero shots: each prompt is "context\nquestion", and the prediction is the label (of the
    /// task's label set) whose tokens the model finds likeliest after it, computed here from
    /// unpadded forward passes.
    @Test func fewShotAccuracyIsTheShareOfGoldLabelsRankedFirst() {
        let labels = ["yes", "no", "maybe"]
        let task = TaskData(name: "yesno", metric: .accuracy,
                            train: (0..<3).map { Example(id: "t\($0)", context: "t\($0)", question: "?", answers: [labels[$0]]) },
                            test: (0..<12).map { Example(id: "e\($0)", context: "sample \($0)", question: "ok?", answers: [labels[$0 % 3]]) })
        let model = tinyModel(), tokenizer = TaskTokenizer(base: ByteTokenizer())
        var scorer = FewShotEvaluator(tokenizer: tokenizer)
        scorer.shots = 0
        let sorted = labels.sorted()
        let correct = task.test.filter { example in
            let prompt = tokenizer.encode(example.context + "\n" + example.question)
            let scores = sorted.map { label -> Double in
                let candidate = tokenizer.encode(" " + label)
                return tokenLogProbabilities(model, prompt + candidate).suffix(candidate.count).reduce(0, +)
            }
            return sorted[scores.indices.max { scores[$0] < scores[$1] }!] == example.answers[0]
        }.count
        #expect(abs(scorer.accuracy(model, on: task, seed: 3) - 100 * Double(correct) / 12) < 1e-9)
    }

    /// For NLL matrices the formulas keep their form and forgetting is the rise above the best
    /// earlier NLL: hand-computed on a 2 × 2 case.
    @Test func metricsOfALowerIsBetterMatrix() {
        let r = [[3.0, 5.0], [3.5, 4.0]], b = [6.0, 6.0]
        let nll = ContinualMetrics(matrix: r, baseline: b, lowerIsBetter: true)
        #expect(nll.acc == 3.75 && nll.learningAcc == 3.5)
        #expect(nll.bwt == 0.5 && nll.forgetting == 0.5 && nll.fwt == -1)
        #expect(nll.lowerIsBetter == true)
        let scores = ContinualMetrics(matrix: r, baseline: b)
        #expect(scores.forgetting == -0.5 && scores.lowerIsBetter == nil)
    }

    @Test func aFolderCorpusReadsTextAndJSONLinesAndHoldsOutItsTestFolder() throws {
        let folder = NSTemporaryDirectory() + "corpus-\(getpid())/mine"
        defer { try? FileManager.default.removeItem(atPath: (folder as NSString).deletingLastPathComponent) }
        try FileManager.default.createDirectory(atPath: folder + "/test", withIntermediateDirectories: true)
        try "first text\n\n second text \n".write(toFile: folder + "/a.txt", atomically: true, encoding: .utf8)
        try "{\"text\": \"third\"}\n".write(toFile: folder + "/b.jsonl", atomically: true, encoding: .utf8)
        try "held out\n".write(toFile: folder + "/test/c.txt", atomically: true, encoding: .utf8)
        let corpus = try Corpora.load(folder, loader: DatasetLoader(root: "/nonexistent"))
        #expect(corpus.name == "mine" && corpus.isCorpus)
        #expect(corpus.train.map(\.context) == ["first text", "second text", "third"])
        #expect(corpus.test.map(\.context) == ["held out"])
        try "{\"txt\": 1}\n".write(toFile: folder + "/b.jsonl", atomically: true, encoding: .utf8)
        #expect { try Corpora.load(folder, loader: DatasetLoader(root: "/nonexistent")) } throws: { "\($0)".contains("b.jsonl:1") }
    }

    @Test func paragraphsSplitIntoSentences() {
        #expect(Corpora.sentences("It rained. Mr. Smith stayed in. Why? Because.") == ["It rained.", "Mr. Smith stayed in.", "Why?", "Because."])
    }

    /// The five built-in corpora load from the shared data, each with held-out texts.
    @Test func theBuiltInCorporaLoad() throws {
        let loader = try DatasetLoader()
        for name in Corpora.names {
            let corpus = try Corpora.load(name, loader: loader)
            #expect(corpus.train.count > 100 && !corpus.test.isEmpty, "\(name): \(corpus.train.count) / \(corpus.test.count)")
            #expect(Set(corpus.train.map(\.context)).count == corpus.train.count, "\(name): each text once")
        }
    }

    /// A corpus stream trains with the LM loss and fills R with NLLs; LAMOL and mixed streams are refused.
    @Test func aCorpusStreamRunsAndWrongCombinationsAreRefused() throws {
        let corpora = ["alpha beta gamma", "delta epsilon"].enumerated().map { i, text in
            Corpora.corpus("c\(i)", train: Array(repeating: text, count: 6), test: [text])
        }
        var settings = TrainingSettings()
        settings.epochs = 1; settings.learningRate = 3e-3; settings.maxLength = 32; settings.tokensPerBatch = 128
        let runner = StreamRunner(settings: settings, seed: 1, runDirectory: nil)
        var finetune = Finetune()
        let results = try runner.run(&finetune, stream: corpora, model: tinyModel(), tokenizer: TaskTokenizer(base: ByteTokenizer()), modelName: "tiny")
        #expect(results.lowerIsBetter && results.metrics?.lowerIsBetter == true)
        #expect(results.matrix[0][0] < results.baseline[0], "training lowers the NLL of the text it saw")
        var lamol = LAMOL()
        #expect { try runner.run(&lamol, stream: corpora, model: tinyModel(), tokenizer: TaskTokenizer(base: ByteTokenizer()), modelName: "tiny") } throws: {
            "\($0)".contains("not text corpora")
        }
        let mixed = [corpora[0], SyntheticTasks.demoStream(train: 4, test: 2, seed: 1)[0]]
        #expect { try runner.run(&finetune, stream: mixed, model: tinyModel(), tokenizer: TaskTokenizer(base: ByteTokenizer()), modelName: "tiny") } throws: {
            "\($0)".contains("mixes the text corpus")
        }
    }
}
