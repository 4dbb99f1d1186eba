import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

/// A run stopped part-way (as Ctrl-C does) and resumed from its checkpoint ends with the same
/// score matrix and bit-identical weights as a run that was never interrupted.
@Suite(.serialized) struct ResumeTests {
    let stream = SyntheticTasks.demoStream(train: 40, test: 6, seed: 8).map { $0 }

    var settings: TrainingSettings {
        var s = TrainingSettings()
        s.epochs = 2; s.learningRate = 3e-3; s.maxLength = 48; s.tokensPerBatch = 160
        return s
    }

    /// Runs `make()` over the stream in `directory`; stops after `stopAfterSteps` optimiser steps
    /// (of the learner or of a teacher), or after the step that `stopAt` picks, when given
    /// (returns nil then).
    func run<M: LifelongMethod>(_ make: () -> M, directory: String, resume: Bool = false,
             stopAfterSteps: Int? = nil, stopAt: ((StepLog) -> Bool)? = nil,
             stopWhileGenerating: Bool = false, stopOnMessage: ((String) -> Bool)? = nil) throws -> (StreamRunner.Results, [[Float]])? {
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        let makeModel = {  // the run's starting model; L2KD's teachers start from copies of it
            DecoderLM(config: DecoderConfig(architecture: .llama, vocabSize: ByteTokenizer().vocabularySize, hiddenSize: 32,
                                            layerCount: 1, headCount: 2, maxPositions: 64), seed: 3)
        }
        let model = makeModel()
        var runner = StreamRunner(settings: settings, seed: 5, runDirectory: directory)
        runner.resume = resume
        runner.checkpointEvery = 4
        var steps = 0, picked = false
        runner.report = {
            if case let .trained(step) = $0 { steps += 1; picked = picked || (stopAt?(step) ?? false) }
            if case .generating = $0, stopWhileGenerating { picked = true }
            if case let .message(text) = $0, stopOnMessage?(text) == true { picked = true }
        }
        runner.shouldStop = { picked || (stopAfterSteps.map { steps >= $0 } ?? false) }
        var method = make()
        do {
            let results = try runner.run(&method, stream: stream, model: model, tokenizer: tokenizer, modelName: "tiny",
                                         startingModel: makeModel)
            return (results, model.parameters.map(\.scalars))
        } catch is RunInterrupted {
            return nil
        }
    }

    /// `insideStage`: the stop falls inside the learner's training (otherwise in a preparation,
    /// such as a teacher's training, before the stage's first step).
    func checkResumeEquivalence<M: LifelongMethod>(_ make: () -> M, stopAfterSteps: Int? = nil, stopAt: ((StepLog) -> Bool)? = nil,
                                                   stopWhileGenerating: Bool = false, stopOnMessage: ((String) -> Bool)? = nil,
                                                   insideStage: Bool = true, tag: String = "",
                                                   damage: (String) throws -> Void = { _ in },
                                                   check: (String) throws -> Void = { _ in }) throws {
        let base = NSTemporaryDirectory() + "resume-\(getpid())-\(stopAfterSteps ?? 0)\(tag)"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (expected, expectedWeights) = try #require(try run(make, directory: base + "/whole"))
        #expect(try run(make, directory: base + "/parts", stopAfterSteps: stopAfterSteps, stopAt: stopAt,
                        stopWhileGenerating: stopWhileGenerating, stopOnMessage: stopOnMessage) == nil, "the run stops when asked")
        let checkpoint = try #require(try RunCheckpoints(runDirectory: base + "/parts").latest())
        #expect((checkpoint.state.stepsDone > 0 || checkpoint.state.stageTrained) == insideStage, "stopped where expected: \(checkpoint.state)")
        try damage(base + "/parts")
        let (resumed, resumedWeights) = try #require(try run(make, directory: base + "/parts", resume: true))
        #expect(resumed.matrix == expected.matrix)
        #expect(resumed.baseline == expected.baseline)
        let sameWeights = resumedWeights == expectedWeights
        let differing = zip(resumedWeights, expectedWeights).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        #expect(sameWeights, "weights after resuming equal those of the uninterrupted run; parameters differing: \(differing)")
        // The same lines but the provenance of each start (its date) and the line a resume adds.
        let log = { (run: String) in try String(contentsOfFile: "\(base)/\(run)/log.jsonl", encoding: .utf8)
            .split(separator: "\n").filter { !$0.contains(#""event":"start""#) && !$0.contains(#""event":"resumed""#) }.map { $0.replacingOccurrences(of: #""tokens_per_s":[0-9.e+-]+"#, with: "", options: .regularExpression) } }
        #expect(try log("parts") == log("whole"), "the log has every step once")
        try check(base + "/parts")
    }

    @Test func lamolResumesMidTask() throws {
        // Stage 2 (index 1) has pseudo-samples; 13 steps in is inside it.
        try checkResumeEquivalence({ LAMOL(prompting: .task, sampleRatio: 0.25, maxSampleLength: 30) }, stopAfterSteps: 13)
    }

    /// Ctrl-C while LAMOL generates pseudo-samples stops the run there; it resumes at the stage's start.
    @Test func lamolStopsWhileGeneratingAndResumes() throws {
        try checkResumeEquivalence({ LAMOL(prompting: .task, sampleRatio: 0.25, maxSampleLength: 30) }, stopWhileGenerating: true,
                                   insideStage: false, tag: "generating")
    }

    @Test func ewcResumesWithItsAnchor() throws {
        try checkResumeEquivalence({ EWC(strength: 100) }, stopAfterSteps: 14)
    }

    var l2kd: () -> L2KD {
        { L2KD(lamol: LAMOL(prompting: .task, sampleRatio: 0.25, maxSampleLength: 30), variant: .seqSoft,
               teacher: L2KD.TeacherSettings(epochs: 1)) }
    }

    @Test func l2kdResumesInsideATeachersTraining() throws {
        let teacherOfSecondTask = "teacher:" + stream[1].name
        try checkResumeEquivalence(l2kd, stopAt: { $0.task == teacherOfSecondTask && $0.step == 5 }, insideStage: false, tag: "teacher")
    }

    @Test func l2kdResumesInsideTheLearnersTraining() throws {
        let secondTask = stream[1].name
        try checkResumeEquivalence(l2kd, stopAt: { $0.task == secondTask && $0.step == 5 }, tag: "learner")
    }

    var slm: () -> SLM {
        var settings = SLM.Settings()
        settings.separator = "="
        settings.keys.epochs = 3
        return { SLM(settings: settings) }
    }

    /// Ctrl-C while the second task's keys train: the stage restarts (keys included) on resume.
    @Test func slmResumesInsideAKeyTraining() throws {
        try requireEncoder()
        let keysOfSecondTask = "keys of \(stream[1].name)"
        try checkResumeEquivalence(slm, stopOnMessage: { $0.contains(keysOfSecondTask) }, insideStage: false, tag: "slm-keys")
    }

    @Test func slmResumesInsideASlotTraining() throws {
        try requireEncoder()
        let secondTask = stream[1].name
        try checkResumeEquivalence(slm, stopAt: { $0.task == secondTask && $0.step == 5 }, tag: "slm-slots")
    }

    /// Stopped right after the first stage's last step: the next stage, which freezes most of the
    /// model, starts in a fresh process. Gradients the first stage left on parameters frozen now
    /// must not count in its clipping norm (they did, so resuming here changed the weights).
    @Test func frozenParametersLeaveNoGradientAcrossAStage() throws {
        try requireEncoder()
        let firstTask = stream[0].name
        let lastStep: (StepLog) -> Bool = { $0.task == firstTask && $0.step == $0.totalSteps - 1 }
        try checkResumeEquivalence(slm, stopAt: lastStep, tag: "slm-boundary")
        var moe = LifelongMoE.Settings()
        moe.every = 1
        try checkResumeEquivalence({ LifelongMoE(settings: moe) }, stopAt: lastStep, tag: "moe-boundary")
    }

    /// Inside the third stage: the model was grown twice and distils from its snapshot, which the
    /// resumed run reads back from the run directory.
    @Test func lifelongMoEResumesInsideAStageOfAGrownModel() throws {
        var settings = LifelongMoE.Settings()
        settings.every = 1; settings.l2Weight = 0.1; settings.capacityFactor = 1.5
        let thirdTask = stream[2].name
        try checkResumeEquivalence({ LifelongMoE(settings: settings) }, stopAt: { $0.task == thirdTask && $0.step == 5 }, tag: "moe")
    }
}

/// SLM's sentence encoder (all-MiniLM-L6-v2), which `make test` pulls.
func requireEncoder() throws {
    guard ModelCache().path(of: "minilm-l6") != nil else {
        throw FormatError(file: "minilm-l6", "not pulled: run `lifelong models pull minilm-l6` (make test does)")
    }
}
