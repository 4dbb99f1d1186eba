import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

@Suite struct RunSafetyTests {
    let base = NSTemporaryDirectory() + "run-safety-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    /// A second run of the same directory is refused, naming the holder's pid, until the first ends.
    @Test func aRunDirectoryHasOneOwner() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        var first: RunDirectoryLock? = try RunDirectoryLock(runDirectory: base)
        #expect { try RunDirectoryLock(runDirectory: base) } throws: { "\($0)".contains("in use by another run (process \(getpid()))") }
        withExtendedLifetime(first) {}
        first = nil
        _ = try RunDirectoryLock(runDirectory: base)
    }

    /// Writing a checkpoint whose tag `latest` already names never touches that folder: the new one
    /// gets a new name, `latest` moves to it, and only then the old one goes.
    @Test func rewritingTheSameTagKeepsLatestComplete() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let checkpoints = RunCheckpoints(runDirectory: base)
        var state = RunState()
        state.baseline = [1, 2]  // the checkpoint after the untrained evaluation: no weights yet
        try checkpoints.save(state, model: nil, optimizer: nil, method: MethodState(), items: nil)
        let first = try #require(try checkpoints.latest()).path
        // A crash while writing a later checkpoint leaves a folder without state.json beside it.
        try FileManager.default.createDirectory(atPath: checkpoints.directory + "/stage0-step0.1", withIntermediateDirectories: true)
        #expect(try checkpoints.latest()?.path == first)
        state.baseline = [3, 4]
        try checkpoints.save(state, model: nil, optimizer: nil, method: MethodState(), items: nil)
        let (saved, second) = try #require(try checkpoints.latest())
        #expect(second != first && saved.baseline == [3, 4])
        #expect(!FileManager.default.fileExists(atPath: first), "the superseded checkpoint is removed")
        #expect(try FileManager.default.contentsOfDirectory(atPath: checkpoints.directory).sorted() == ["latest", (second as NSString).lastPathComponent])
    }

    @Test(arguments: ["../../x", "a/b", "", "ans", ".hidden", "a__b", "<|endoftext|>", "two words"])
    func taskNamesThatCouldEscapeOrCollideAreRefused(name: String) throws {
        let task = TaskData(name: name, metric: .em, train: [Example(id: "1", context: "c", question: "q", answers: ["a"])],
                            test: [Example(id: "1", context: "c", question: "q", answers: ["a"])])
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        let model = DecoderLM(config: DecoderConfig(architecture: .gpt2, vocabSize: 257, hiddenSize: 16, layerCount: 1, headCount: 2,
                                                    maxPositions: 32), seed: 1)
        var method = Finetune()
        #expect { try StreamRunner(settings: TrainingSettings(), seed: 1, runDirectory: base)
            .run(&method, stream: [task], model: model, tokenizer: tokenizer, modelName: "m") } throws: {
            "\($0)".contains("task '\(name)'") && "\($0)".contains("the task name")
        }
        #expect(!FileManager.default.fileExists(atPath: base), "nothing was written")
    }

    @Test func aTaskNameUsedTwiceIsRefused() {
        let task = TaskData(name: "same", metric: .em, train: [], test: [])
        #expect { try TaskData.validateNames([task, task]) } throws: { "\($0)".contains("appears twice") }
    }
}

@Suite struct DivergenceTests {
    /// A step whose loss is not finite stops training with the step's numbers, before the optimiser
    /// touches any weight.
    @Test func aNonFiniteLossStopsTrainingBeforeTheUpdate() throws {
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        _ = (tokenizer.answerToken(), tokenizer.endOfExampleToken())
        let model = DecoderLM(config: DecoderConfig(architecture: .gpt2, vocabSize: tokenizer.vocabularySize, hiddenSize: 16,
                                                    layerCount: 1, headCount: 2, maxPositions: 32), seed: 1)
        model.namedParameters.first { $0.name.hasSuffix("ln_f.weight") }!.tensor.data[0] = .nan
        let before = model.parameters.map(\.scalars)
        let task = SyntheticTasks.addition(train: 8, test: 1, seed: 1)
        let context = StageContext(index: 0, stream: [task], model: model, tokenizer: tokenizer, settings: TrainingSettings(), seed: 1)
        var method = Finetune()
        let items = try method.planStage(context).items
        #expect { try SequenceTrainer(settings: TrainingSettings(), padToken: tokenizer.endOfExampleToken())
            .train(model, items: items, taskName: "addition", seed: 1) } throws: {
            "\($0)".contains("training diverged on addition at step 1: qa_loss is nan")
        }
        let after = model.parameters.map(\.scalars)
        #expect(zip(before, after).allSatisfy { a, b in zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) } })
    }
}
