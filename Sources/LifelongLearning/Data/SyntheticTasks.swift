import LifelongEngine

/// Small tasks the project generates itself, so that the demo and the end-to-end tests need no
/// external data. Their formats differ on purpose: a model fine-tuned on one after another
/// visibly forgets the earlier ones.
public enum SyntheticTasks {
    /// "the soup was tasty" → "positive": the one sentiment word decides.
    public static func sentiment(train: Int, test: Int, seed: UInt64) -> TaskData {
        let nouns = ["soup", "room", "staff", "film", "book", "view", "bed", "cake", "band", "park"]
        let positive = ["great", "tasty", "lovely", "superb", "kind", "fun"]
        let negative = ["awful", "bland", "dirty", "rude", "dull", "broken"]
        return make("sentiment", train: train, test: test, seed: seed) { rng in
            let good = rng.next() % 2 == 0
            let adjective = pick(good ? positive : negative, &rng)
            return ("the \(pick(nouns, &rng)) was \(adjective)", "mood?", good ? "positive" : "negative")
        }
    }

    /// "red blue green" → "green": copy the last of three colour words.
    public static func lastWord(train: Int, test: Int, seed: UInt64) -> TaskData {
        let colours = ["red", "blue", "green", "black", "white", "pink", "grey", "gold", "teal", "brown"]
        return make("lastword", train: train, test: test, seed: seed) { rng in
            let words = (0..<3).map { _ in pick(colours, &rng) }
            return (words.joined(separator: " "), "last?", words[2])
        }
    }

    /// "3+4" → "7", digits 0–4.
    public static func addition(train: Int, test: Int, seed: UInt64) -> TaskData {
        make("addition", train: train, test: test, seed: seed) { rng in
            let a = Int(rng.next() % 5), b = Int(rng.next() % 5)
            return ("\(a)+\(b)", "sum?", "\(a + b)")
        }
    }

    /// The demo stream: sentiment → lastword → addition.
    /// The name of the demo's stream in a run config (`stream: synthetic`): `demoStream()` with its
    /// defaults, the same data for every run seed.
    public static let streamName = "synthetic"

    public static func demoStream(train: Int = 400, test: Int = 60, seed: UInt64 = 1) -> [TaskData] {
        [sentiment(train: train, test: test, seed: seed), lastWord(train: train, test: test, seed: seed &+ 1),
         addition(train: train, test: test, seed: seed &+ 2)]
    }

    static func pick<T>(_ items: [T], _ rng: inout SeededGenerator) -> T { items[Int(rng.next() % UInt64(items.count))] }

    static func make(_ name: String, train: Int, test: Int, seed: UInt64,
                     _ example: (inout SeededGenerator) -> (String, String, String)) -> TaskData {
        var rng = SeededGenerator(seed: seed)
        let examples = (0..<(train + test)).map { i -> Example in
            let (c, q, a) = example(&rng)
            return Example(id: "\(name)-\(i)", context: c, question: q, answers: [a])
        }
        return TaskData(name: name, metric: .em, train: Array(examples[..<train]), test: Array(examples[train...]))
    }
}
