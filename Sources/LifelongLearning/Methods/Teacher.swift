import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels

/// L2KD's teacher for one task: a fresh copy of the run's starting model (the pretrained weights,
/// not the learner), grown to the learner's vocabulary so that every token id means the same in
/// both, trained on the task alone with LAMOL's QA + LM losses.
///
/// Files, under `teachers/<task>/` in the run directory:
///
/// | file | what |
/// |---|---|
/// | `model.safetensors` | the trained teacher (written last: its presence means the teacher is complete) |
/// | `partial/` | an interrupted training: weights, AdamW's moments, `progress.json` |
///
/// A complete teacher is reused (never trained twice); `from: DIR` loads `DIR/<task>/model.safetensors`
/// instead of training.
struct TeacherTrainer {
    var settings: L2KD.TeacherSettings
    /// The store folder of the run's teachers.
    static let folder = "teachers"

    struct Progress: Codable {
        var stepsDone: Int
        var optimizerSteps: Int
        enum CodingKeys: String, CodingKey { case stepsDone = "steps_done", optimizerSteps = "optimizer_steps" }
    }

    /// The teacher of `context.task`, trained (or resumed, or loaded); `items` are its training items.
    /// Returns the model and whether it was trained here.
    func teacher(_ context: StageContext, items: [TrainingItem]) throws -> (DecoderLM, trained: Bool) {
        guard let makeStartingModel = context.startingModel else {
            throw FormatError(file: "l2kd", "L2KD needs the run's starting model to build its teachers")
        }
        let teacher = try makeStartingModel()
        teacher.dropQuantizedWeights()
        let missing = context.tokenizer.vocabularySize - teacher.config.vocabSize
        guard missing >= 0 else { throw FormatError(file: "l2kd", "the starting model has more tokens than the learner's tokenizer") }
        // The new rows (ANS, task tokens) are drawn as the learner's were; the teacher learns its
        // own task's rows, and the other tasks' rows only ever serve as tokens to assign no probability.
        teacher.addTokens(missing, seed: context.seed &+ 7_777)
        if let from = settings.from {
            try load(teacher, from: path(from, context.task.name, "model.safetensors"))
            return (teacher, false)
        }
        let task = context.task.name
        guard let store = context.artefacts(Self.folder) else {
            try train(teacher, items: items, context: context, store: nil)
            return (teacher, true)
        }
        if store.contains(task, "model.safetensors") {
            try load(teacher, from: try store.path(task, "model.safetensors"))
            return (teacher, false)
        }
        try train(teacher, items: items, context: context, store: store)
        try teacher.save(to: try store.fileToWrite(task, "model.safetensors"))
        try store.remove(task, "partial")
        return (teacher, true)
    }

    /// `teacher.keep: false`: deletes the run's own teachers of the tasks before `context.task`.
    /// Called when a stage starts, so the earlier stages' checkpoints are written and a resume
    /// never needs those teachers again. Teachers of `from` are the user's and are left alone.
    func removeEarlierTeachers(_ context: StageContext) throws {
        guard settings.from == nil, let store = context.artefacts(Self.folder) else { return }
        for task in context.stream.prefix(context.index) where task.name != context.task.name {
            guard store.contains(task.name) else { continue }
            try store.remove(task.name)
            context.report(.message("  l2kd: deleted the teacher of \(task.name) (method.teacher.keep: false)"))
        }
    }

    private func load(_ teacher: DecoderLM, from file: String) throws {
        guard FileManager.default.fileExists(atPath: file) else { throw FormatError(file: file, "no teacher here (method.teacher.from)") }
        let checkpoint = try TensorCheckpoint(files: [try SafetensorsFile(path: file)])
        try checkpoint.load(into: teacher.namedParameters, optionalPrefix: "", ignoring: [])
    }

    private var trainingSettings: (TrainingSettings) -> TrainingSettings {
        { base in
            var s = base
            s.epochs = settings.epochs ?? base.epochs
            s.learningRate = settings.learningRate ?? base.learningRate
            return s
        }
    }

    /// Trains with the run's trainer, checkpointing into `partial/` every `checkpointEvery` steps
    /// and when asked to stop (then throws `RunInterrupted`); resumes from `partial/` if present.
    private func train(_ teacher: DecoderLM, items: [TrainingItem], context: StageContext, store: ArtefactStore?) throws {
        let trainerSettings = trainingSettings(context.settings)
        let trainer = SequenceTrainer(settings: trainerSettings, padToken: context.tokenizer.endOfExampleToken())
        let partial = try store.map { try $0.path(context.task.name, "partial") }
        var progress = Progress(stepsDone: 0, optimizerSteps: 0)
        if let partial, let data = try? UserFile.data(path(partial, "progress.json")) {
            progress = try JSONDecoder().decode(Progress.self, from: data)
            try load(teacher, from: path(partial, "model.safetensors"))
        }
        context.report(.message("  l2kd: training the teacher of \(context.task.name) (\(items.count) items)"))
        var stopped = false
        try trainer.train(teacher, items: items, taskName: "teacher:\(context.task.name)", seed: context.seed &* 131,
                          startStep: progress.stepsDone,
                          prepare: { optimizer in
                              guard let partial, progress.stepsDone > 0 else { return }
                              try RunCheckpoints.readMoments(into: optimizer, model: teacher, stepCount: progress.optimizerSteps,
                                                             from: path(partial, "optimizer.safetensors"))
                          },
                          onStep: { step, optimizer in
            context.report(.trained(step))
            stopped = context.shouldStop()
            let periodic = context.checkpointEvery.map { (step.step + 1) % $0 == 0 } ?? false
            if let partial, (stopped || periodic) && step.step + 1 < step.totalSteps {
                try store?.writeFolder(context.task.name, "partial") { fresh in
                    try savePartial(teacher, optimizer: optimizer, progress: Progress(stepsDone: step.step + 1, optimizerSteps: optimizer.stepCount),
                                    to: fresh)
                }
            }
            return !stopped
        })
        if stopped { throw RunInterrupted(checkpoint: partial ?? "(no run directory)") }
    }

    /// `partial/`'s files, written into the new folder the store swaps in whole.
    private func savePartial(_ teacher: DecoderLM, optimizer: AdamW, progress: Progress, to folder: String) throws {
        try teacher.save(to: path(folder, "model.safetensors"))
        try RunCheckpoints.writeMoments(of: optimizer, model: teacher, to: path(folder, "optimizer.safetensors"))
        try writeAtomically(try JSONEncoder().encode(progress), to: path(folder, "progress.json"))
    }
}

private func path(_ parts: String...) -> String {
    parts.dropFirst().reduce(parts[0]) { ($0 as NSString).appendingPathComponent($1) }
}
