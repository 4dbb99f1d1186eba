import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

@Suite struct LAMOLTests {
    @Test func qaAndLMSequencesForAKnownExample() {
        // c q = [10, 11], a = [20], ANS = 1, EOS = 2, GEN (task token) = 3.
        let qa = LAMOLSequences.qa(contextQuestion: [10, 11], answer: [20], ans: 1, eos: 2)
        #expect(qa.tokens == [10, 11, 1, 20, 2])
        #expect(qa.targets == [-100, -100, 20, 2, -100])  // predict a and EOS from the ANS position on
        let lm = LAMOLSequences.lm(contextQuestion: [10, 11], answer: [20], gen: 3, ans: 1, eos: 2, answerWeight: 5)
        #expect(lm.tokens == [3, 10, 11, 1, 20, 2])
        #expect(lm.targets == [10, 11, 1, 20, 2, -100])  // every token after GEN
        #expect(lm.weights == [1, 1, 5, 1, 1, 1])         // the ANS target weighs 5
    }

    @Test func pseudoSampleParseAndDiscardRule() {
        func parse(_ tokens: [Int]) -> String {
            switch LAMOLSequences.parse(generated: tokens, ans: 1, eos: 2) {
            case let .success((cq, a)): return "\(cq)|\(a)"
            case let .failure(reason): return reason.rawValue
            }
        }
        #expect(parse([10, 11, 1, 20, 21, 2, 99]) == "[10, 11]|[20, 21]")  // what follows EOS is ignored
        #expect(parse([10, 11, 20, 2]) == "no_ans")
        #expect(parse([10, 1, 11, 1, 20, 2]) == "several_ans")
        #expect(parse([10, 11, 1, 20]) == "no_eos")
        #expect(parse([1, 2]) == "[]|[]")
    }

    @Test func taskModeSplitsPseudoSamplesEquallyAcrossEarlierTasks() throws {
        // γ = 0.2 of 50 new examples = 10 samples over 3 earlier tasks → 4, 3, 3 (real replay keeps counts exact).
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        _ = (tokenizer.answerToken(), tokenizer.endOfExampleToken())
        let stream = ["a", "b", "c", "d"].enumerated().map { i, name in
            TaskData(name: name, metric: .em, train: (0..<50).map { Example(id: "\($0)", context: "x\(i)", question: "q", answers: ["y"]) }, test: [])
        }
        for task in stream { _ = tokenizer.taskToken(task.name) }
        let model = DecoderLM(config: DecoderConfig(architecture: .gpt2, vocabSize: tokenizer.vocabularySize, hiddenSize: 16,
                                                    layerCount: 1, headCount: 2, maxPositions: 64), seed: 1)
        var replay = LAMOL(prompting: .task, sampleRatio: 0.2, realReplay: true)
        let context = StageContext(index: 3, stream: stream, model: model, tokenizer: tokenizer, settings: TrainingSettings(), seed: 1)
        let items = try replay.planStage(context).items
        #expect(items.count == 50 + 10)
        #expect(items.prefix(50).allSatisfy { $0.origin == .current } && items[50...].allSatisfy { $0.origin == .replayed })
        #expect(replay.pseudoSamples.map(\.kept) == [4, 3, 3])
        #expect(replay.pseudoSamples.map(\.of) == ["a", "b", "c"])
        // Each replayed example's LM sequence starts with its own task's token.
        let firstTokens = items[50...].map { $0.lm!.tokens[0] }
        #expect(firstTokens == [Int](repeating: tokenizer.taskToken("a"), count: 4) + [Int](repeating: tokenizer.taskToken("b"), count: 3)
                + [Int](repeating: tokenizer.taskToken("c"), count: 3))
    }

    @Test func taskTokenizerAppendsSpecialTokensAfterTheBaseVocabulary() {
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        #expect(tokenizer.endOfExampleToken() == 256)  // the base vocabulary's end-of-text, as LAMOL reuses GPT-2's
        #expect(tokenizer.answerToken() == 257 && tokenizer.taskToken("sst") == 258)
        #expect(tokenizer.answerToken() == 257 && tokenizer.vocabularySize == 259)
        #expect(tokenizer.decode(tokenizer.encode("hi") + [257] + tokenizer.encode("yo") + [256]) == "hi__ans__yo")
        let own = TaskTokenizer(base: ByteTokenizer(), useBaseEndOfText: false)
        #expect(own.endOfExampleToken() == 257 && own.decode([104, 257]) == "h__eos__")
    }
}

@Suite struct GradientAccumulationTests {
    /// With sequences of equal length, two accumulated half-batches give the gradient of the full
    /// batch, so training follows the same path.
    @Test func accumulatedHalfBatchesEqualOneFullBatch() throws {
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        _ = (tokenizer.answerToken(), tokenizer.endOfExampleToken())
        let task = SyntheticTasks.addition(train: 16, test: 1, seed: 3)  // "a+b sum?" → one digit: all the same length
        func train(tokensPerBatch: Int, accumulation: Int) throws -> [[Float]] {
            let model = DecoderLM(config: DecoderConfig(architecture: .llama, vocabSize: tokenizer.vocabularySize, hiddenSize: 16,
                                                        layerCount: 1, headCount: 2, maxPositions: 32), seed: 4)
            var settings = TrainingSettings()
            settings.epochs = 2; settings.learningRate = 1e-2; settings.tokensPerBatch = tokensPerBatch
            settings.gradientAccumulation = accumulation; settings.maxLength = 32
            let context = StageContext(index: 0, stream: [task], model: model, tokenizer: tokenizer, settings: settings, seed: 1)
            var method = Finetune()
            let items = try method.planStage(context).items
            #expect(Set(items.map(\.qa.tokens.count)).count == 1)
            var steps = 0
            try SequenceTrainer(settings: settings, padToken: tokenizer.endOfExampleToken()).train(model, items: items, taskName: "t", seed: 7,
                                                                                  onStep: { _, _ in steps += 1; return true })
            #expect(steps == 2 * 16 / 4)
            return model.parameters.map(\.scalars)
        }
        let length = 12  // tokens per sequence: "a+b sum?" 8 + ANS + digit + EOS = 11, budget rounds up
        let full = try train(tokensPerBatch: 4 * length, accumulation: 1)
        let accumulated = try train(tokensPerBatch: 2 * length, accumulation: 2)
        for (a, b) in zip(full, accumulated) {
            let scale = a.map(abs).max()!
            #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
        }
    }
}
