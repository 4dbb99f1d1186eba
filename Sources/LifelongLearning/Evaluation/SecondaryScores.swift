/// The scores of a secondary metric (BLEU beside ROUGE-L) for the tasks of the stream that have
/// it, laid out as R: the untrained model's row, then one row per stage.
public struct SecondaryScores: Codable, Sendable, Equatable {
    /// The tasks scored, in stream order (the columns).
    public var tasks: [String]
    public var baseline: [Double]? = nil
    public var matrix: [[Double]] = []

    public init(tasks: [String]) { self.tasks = tasks }

    /// The mean over the tasks after the last stage.
    public var finalAverage: Double? {
        matrix.last.flatMap { $0.isEmpty ? nil : $0.reduce(0, +) / Double($0.count) }
    }

    /// Adds one evaluation: `scores[task]` per task, as the untrained row or the next stage's row.
    mutating func record(_ scores: [String: Double], untrained: Bool) {
        let row = tasks.map { scores[$0] ?? .nan }
        if untrained { baseline = row } else { matrix.append(row) }
    }

    /// Each secondary metric's scores of one evaluation, by metric: metric → task → score.
    static func record(_ scores: [String: [String: Double]], untrained: Bool, into all: inout [String: SecondaryScores]?,
                       stream: [TaskData]) {
        guard !scores.isEmpty else { return }
        var updated = all ?? [:]
        for (metric, byTask) in scores {
            var entry = updated[metric] ?? SecondaryScores(tasks: stream.map(\.name).filter { byTask[$0] != nil })
            entry.record(byTask, untrained: untrained)
            updated[metric] = entry
        }
        all = updated
    }
}
