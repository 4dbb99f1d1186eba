import Foundation

/// `results.json` is read back by `report` and `sweep`, and may have been edited, truncated or
/// written by a broken run: its shapes and numbers are checked before anything is drawn from them.
extension StreamRunner.Results {
    /// Scores and losses beyond this are not from a run (scores are 0–100, NLLs a few nats).
    static let largestValue = 1e6

    /// Why these results cannot be reported, or nil.
    func problem() -> String? {
        let tasks = self.tasks.count
        guard tasks > 0, metricNames.count == tasks else { return "'tasks' and 'task_metrics' must list the same tasks (\(tasks), \(metricNames.count))" }
        guard Set(self.tasks).count == tasks else { return "'tasks' names a task twice" }
        guard baseline.isEmpty || baseline.count == tasks else { return "'baseline' has \(baseline.count) scores for \(tasks) tasks" }
        guard matrix.count <= tasks else { return "'matrix' has \(matrix.count) rows for \(tasks) tasks" }
        if let row = matrix.firstIndex(where: { $0.count != tasks }) { return "'matrix' row \(row + 1) has \(matrix[row].count) scores for \(tasks) tasks" }
        func sane(_ values: [Double]) -> Bool { values.allSatisfy { $0.isFinite && abs($0) <= Self.largestValue } }
        guard sane(baseline + matrix.flatMap { $0 } + [finalAverage]) else {
            return "a score is not a finite number within ±\(Int(Self.largestValue))"
        }
        guard [secondsTraining, secondsEvaluating].allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            return "'seconds_training' and 'seconds_evaluating' must be finite and ≥ 0"
        }
        for (metric, scores) in secondaryScores ?? [:] {
            let rows = (scores.baseline.map { [$0] } ?? []) + scores.matrix
            guard scores.matrix.count <= matrix.count, rows.allSatisfy({ $0.count == scores.tasks.count }),
                  sane(rows.flatMap { $0 }.filter { !$0.isNaN }) else {
                return "'secondary_scores.\(metric)' does not match its tasks or the run's stages"
            }
        }
        if let fewShot {
            for scores in [fewShot.before, fewShot.after].compactMap({ $0 }) where scores.count != fewShot.tasks.count || !sane(scores) {
                return "'few_shot' must hold one finite score per few-shot task (\(fewShot.tasks.count))"
            }
        }
        for s in pseudoSamples where [s.generated, s.kept, s.duplicates, s.totalLength].contains(where: { $0 < 0 }) {
            return "'pseudo_samples' holds a negative count"
        }
        return nil
    }
}
