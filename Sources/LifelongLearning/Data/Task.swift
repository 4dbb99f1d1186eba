import Foundation
import LifelongFormats
import LifelongEngine

/// One example in the decaNLP / LAMOL format: every task is context, question → answer.
public struct Example: Codable, Equatable, Sendable {
    public var id: String
    public var context: String
    public var question: String
    /// One or more gold answers (metrics take the best match); training uses the first.
    public var answers: [String]
    /// For dialogue tasks (WOZ): the dialogue and the turn within it, which dsEM accumulates over.
    public var dialogue: String?
    public var turn: Int?

    public init(id: String, context: String, question: String, answers: [String], dialogue: String? = nil, turn: Int? = nil) {
        self.id = id; self.context = context; self.question = question; self.answers = answers
        self.dialogue = dialogue; self.turn = turn
    }
}

/// How a task is scored (0–100).
public enum TaskMetric: String, Codable, Sendable, CaseIterable {
    /// Exact match (case-sensitive, as LAMOL's code) and its accuracy alias for classification.
    case em, accuracy
    /// Exact match and token F1 after SQuAD normalisation.
    case nem, nf1
    case macroF1 = "macro_f1"
    /// Dialogue-state exact match (WOZ joint goal), accumulated over each dialogue's turns.
    case dsem
    /// Logical-form exact match of WikiSQL queries (normalised query text: no tables here).
    case lfem
    /// NLG: ROUGE-L F1 (mean over examples) and corpus BLEU-4, against every reference.
    case rougeL = "rouge_l", bleu
    /// Text corpora: the held-out negative log-likelihood per token, in nats (lower is better).
    case nll

    /// Scores where lower is better (NLL); the continual metrics say what their signs mean then.
    public var lowerIsBetter: Bool { self == .nll }

    /// Metrics reported beside this one (results.json `secondary_scores`): generation is scored by
    /// corpus BLEU too, as the NLG tables of the LAMOL and L2KD papers are.
    public var secondary: [TaskMetric] { self == .rougeL ? [.bleu] : [] }
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

    /// A text corpus (continual pretraining): plain texts, the LM loss, held-out NLL.
    public var isCorpus: Bool { metric == .nll }

    /// The same task with at most `train` / `test` examples per split, drawn with `seed`.
    public func subsampled(train trainCount: Int?, test testCount: Int?, seed: UInt64) -> TaskData {
        var copy = self
        var rng = SeededShuffler(seed: seed)
        if let trainCount, trainCount < train.count { copy.train = Self.sample(train, trainCount, &rng) }
        if let testCount, testCount < test.count { copy.test = Self.sample(test, testCount, &rng) }
        return copy
    }

    /// `count` examples at random; dialogues are kept whole (dsEM needs every turn), so whole
    /// dialogues are drawn until `count` turns are reached, in their original order.
    private static func sample(_ examples: [Example], _ count: Int, _ rng: inout SeededShuffler) -> [Example] {
        guard examples.contains(where: { $0.dialogue != nil }) else { return Array(rng.shuffled(examples).prefix(count)) }
        var order: [String] = [], seen = Set<String>()
        for e in examples where seen.insert(e.dialogue ?? e.id).inserted { order.append(e.dialogue ?? e.id) }
        var chosen = Set<String>(), total = 0
        let sizes = Dictionary(grouping: examples, by: { $0.dialogue ?? $0.id }).mapValues(\.count)
        for d in rng.shuffled(order) where total < count { chosen.insert(d); total += sizes[d]! }
        return examples.filter { chosen.contains($0.dialogue ?? $0.id) }
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

extension TaskData {
    /// The characters of a task name (built-in names such as `clinc150:banking` use `:`).
    static let nameCharacters = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_-.:+@"))

    /// What is wrong with a task name, or nil: it becomes a file name (`samples/<name>.jsonl`) and
    /// a token (`__name__`), so it may hold no path separator, no dot in front, no special token.
    public static func nameProblem(_ name: String) -> String? {
        name.isEmpty ? "is empty"
            : name.contains("/") || name.contains("\\") || name.contains("\0") ? "contains a path separator or NUL"
            : name.hasPrefix(".") ? "starts with a dot"
            : ["ans", "gen", "eos"].contains(name) ? "is the name of a special token (__\(name)__)"
            : name.contains("__") ? "contains '__' (task tokens are written __name__)"
            : name.unicodeScalars.contains(where: { !nameCharacters.contains($0) })
                ? "may only hold letters, digits and _ - . : + @ (it becomes a file name and a token)"
            : name.count > 200 ? "is longer than 200 characters" : nil
    }

    /// Every name is valid (`nameProblem`) and unique in the stream.
    public static func validateNames(_ stream: [TaskData]) throws {
        var seen = Set<String>()
        for task in stream {
            if let problem = nameProblem(task.name) { throw FormatError(file: "task '\(task.name)'", "the task name \(problem)") }
            guard seen.insert(task.name).inserted else { throw FormatError(file: "task '\(task.name)'", "the task name appears twice in the stream") }
        }
    }
}
