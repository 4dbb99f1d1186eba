import LifelongEngine

/// One example in the decaNLP / LAMOL format: every task is context, question → answer.
public struct Example: Codable, Equatable, Sendable {
    public var id: String
    public var context: String
    public var question: String
    /// One or more gold answers (metrics take the best match); training uses the first.
    public var answers: [String]

    public init(id: String, context: String, question: String, answers: [String]) {
        self.id = id; self.context = context; self.question = question; self.answers = answers
    }
}

/// How a task is scored (0–100).
public enum TaskMetric: String, Codable, Sendable, CaseIterable {
    case em, nem, nf1, accuracy
    case macroF1 = "macro_f1"
}

/// A task of the stream: its examples by split, and its metric.
public struct TaskData: Sendable {
    public var name: String
    public var metric: TaskMetric
    public var train: [Example]
    public var dev: [Example]
    public var test: [Example]

    public init(name: String, metric: TaskMetric, train: [Example], dev: [Example] = [], test: [Example]) {
        self.name = name; self.metric = metric; self.train = train; self.dev = dev; self.test = test
    }

    /// The same task with at most `train` / `test` examples per split, drawn with `seed`.
    public func subsampled(train trainCount: Int?, test testCount: Int?, seed: UInt64) -> TaskData {
        var copy = self
        var rng = SeededShuffler(seed: seed)
        if let trainCount, trainCount < train.count { copy.train = Array(rng.shuffled(train).prefix(trainCount)) }
        if let testCount, testCount < test.count { copy.test = Array(rng.shuffled(test).prefix(testCount)) }
        return copy
    }
}


/// A seeded Fisher–Yates shuffle, so that splits and epoch orders do not depend on the standard
/// library's choice of algorithm.
struct SeededShuffler {
    var rng: SeededGenerator
    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    mutating func shuffled<T>(_ items: [T]) -> [T] {
        var result = items
        if result.count < 2 { return result }
        for i in stride(from: result.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            result.swapAt(i, j)
        }
        return result
    }
}
