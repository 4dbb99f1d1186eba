import Foundation
import LifelongFormats

/// A checkpoint is input like any other: `state.json` may have been edited, damaged or written for
/// another stream. These checks run where it is read, before any counter, row or name is used, and
/// the error names the file and the field.
extension RunState {
    /// Inside a stage's training: the optimiser's moments and the stage's items are saved too.
    var isMidStage: Bool { stepsDone > 0 && !stageTrained }

    /// The fields' own ranges and their agreement with one another, as every checkpoint this
    /// program writes has them.
    func checkConsistency(file: String) throws {
        func fail(_ field: String, _ message: String) -> FormatError { FormatError(file: file, "field '\(field)' \(message)") }
        for (field, value) in [("stage", stage), ("steps_done", stepsDone), ("optimizer_steps", optimizerSteps), ("log_bytes", logBytes)]
        where !(0...Self.maximumCount).contains(value) {
            throw fail(field, "must be in 0…\(Self.maximumCount), not \(value)")
        }
        for (field, value) in [("seconds_training", secondsTraining), ("seconds_evaluating", secondsEvaluating)] where !(value.isFinite && value >= 0) {
            throw fail(field, "must be a finite number ≥ 0, not \(value)")
        }
        guard hasWeights == (stage > 0 || stepsDone > 0 || stageTrained) else {
            throw fail("has_weights", "is \(hasWeights), but the run is at stage \(stage + 1), step \(stepsDone)\(stageTrained ? " (trained)" : "")")
        }
        guard let baseline else { throw fail("baseline", "is missing (every checkpoint is written after the untrained evaluation)") }
        guard matrix.count == stage else { throw fail("matrix", "has \(matrix.count) rows; a checkpoint at stage \(stage + 1) has \(stage)") }
        for (i, row) in ([baseline] + matrix).enumerated() {
            let field = i == 0 ? "baseline" : "matrix[\(i - 1)]"
            guard row.count == baseline.count, !row.isEmpty else { throw fail(field, "has \(row.count) scores; the run has \(baseline.count) tasks") }
            guard row.allSatisfy({ $0.isFinite }) else { throw fail(field, "holds a score that is not a finite number") }
        }
        for (i, name) in specialTokens.enumerated() where name.isEmpty || name.count > 200 || specialTokens[..<i].contains(name) {
            throw fail("special_tokens[\(i)]", "'\(name.prefix(40))' must be a non-empty name of at most 200 characters, listed once")
        }
        if let fewShot {
            for (part, scores) in [("before", fewShot.before), ("after", fewShot.after)] {
                guard let scores else { continue }
                guard scores.count == fewShot.tasks.count, scores.allSatisfy({ $0.isFinite }) else {
                    throw fail("few_shot.\(part)", "must hold one finite score per few-shot task (\(fewShot.tasks.count))")
                }
            }
        }
        for (metric, scores) in secondary ?? [:] {
            let rows = (scores.baseline.map { [$0] } ?? []) + scores.matrix
            guard scores.matrix.count <= stage, rows.allSatisfy({ $0.count == scores.tasks.count }) else {
                throw fail("secondary.\(metric)", "has rows that do not match its \(scores.tasks.count) tasks or the run's \(stage) stages")
            }
        }
    }

    /// Agreement with the run that resumes it: its stages and its tasks.
    func check(stageCount: Int, taskNames: [String], file: String) throws {
        guard stage <= stageCount else {
            throw FormatError(file: file, "field 'stage' is \(stage + 1), but the run's stream has \(stageCount) stage\(stageCount == 1 ? "" : "s")")
        }
        guard baseline?.count == taskNames.count else {
            throw FormatError(file: file, "field 'baseline' scores \(baseline?.count ?? 0) tasks, but the run's stream has \(taskNames.count)")
        }
        if stage == stageCount && (stepsDone > 0 || stageTrained) {
            throw FormatError(file: file, "field 'steps_done' is \(stepsDone) after the last stage")
        }
    }

    /// Counters beyond this are not from a real run (and would overflow the arithmetic on them).
    static let maximumCount = 1 << 40
}
