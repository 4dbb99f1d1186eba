import Foundation

/// Per-task scores on a 0–100 scale, from predictions and gold answers.
package enum TaskMetrics {
    /// SQuAD normalisation: lower-case, drop punctuation, drop the articles a/an/the, collapse spaces.
    public static func normalize(_ text: String) -> String {
        let lowered = text.lowercased()
        let noPunctuation = String(String.UnicodeScalarView(lowered.unicodeScalars.filter { !isASCIIPunctuation($0) }))
        return noPunctuation.split(whereSeparator: { $0.isWhitespace })
            .filter { $0 != "a" && $0 != "an" && $0 != "the" }
            .joined(separator: " ")
    }

    private static func isASCIIPunctuation(_ c: Unicode.Scalar) -> Bool {
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars.contains(c)
    }

    /// Exact match, as the official LAMOL code: case-sensitive, not normalised (surrounding spaces trimmed).
    public static func exactMatch(_ prediction: String, _ answers: [String]) -> Bool {
        let p = prediction.trimmingCharacters(in: .whitespacesAndNewlines)
        return answers.contains { $0.trimmingCharacters(in: .whitespacesAndNewlines) == p }
    }

    public static func normalizedExactMatch(_ prediction: String, _ answers: [String]) -> Bool {
        let p = normalize(prediction)
        return answers.contains { normalize($0) == p }
    }

    /// Token F1 of normalised strings (SQuAD), the best over the gold answers. Two empty strings
    /// agree (F1 1); an empty and a non-empty one do not (F1 0).
    public static func f1(_ prediction: String, _ answers: [String]) -> Double {
        answers.map { gold in
            let p = normalize(prediction).split(separator: " ").map(String.init)
            let g = normalize(gold).split(separator: " ").map(String.init)
            if p.isEmpty || g.isEmpty { return p.isEmpty && g.isEmpty ? 1 : 0 }
            var counts: [String: Int] = [:]
            for t in g { counts[t, default: 0] += 1 }
            var common = 0
            for t in p where (counts[t] ?? 0) > 0 { counts[t]! -= 1; common += 1 }
            if common == 0 { return 0 }
            let precision = Double(common) / Double(p.count), recall = Double(common) / Double(g.count)
            return 2 * precision * recall / (precision + recall)
        }.max() ?? 0
    }

    /// Macro-averaged F1 over the gold labels (first answer) of a classification task.
    public static func macroF1(_ predictions: [String], _ golds: [String]) -> Double {
        let labels = Set(golds)
        guard !labels.isEmpty else { return 0 }
        let perLabel = labels.map { label -> Double in
            let tp = zip(predictions, golds).filter { $0 == label && $1 == label }.count
            let fp = zip(predictions, golds).filter { $0 == label && $1 != label }.count
            let fn = zip(predictions, golds).filter { $0 != label && $1 == label }.count
            return tp == 0 ? 0 : 2 * Double(tp) / Double(2 * tp + fp + fn)
        }
        return 100 * perLabel.reduce(0, +) / Double(labels.count)
    }

    /// The task's score for a list of predictions.
    public static func score(_ metric: TaskMetric, predictions: [String], examples: [Example]) -> Double {
        precondition(predictions.count == examples.count, "one prediction per example")
        guard !examples.isEmpty else { return 0 }
        let n = Double(examples.count)
        switch metric {
        case .em, .accuracy:
            return 100 * Double(zip(predictions, examples).filter { exactMatch($0, $1.answers) }.count) / n
        case .nem:
            return 100 * Double(zip(predictions, examples).filter { normalizedExactMatch($0, $1.answers) }.count) / n
        case .nf1:
            return 100 * zip(predictions, examples).map { f1($0, $1.answers) }.reduce(0, +) / n
        case .macroF1:
            return macroF1(predictions.map { $0.trimmingCharacters(in: .whitespaces) }, examples.map { $0.answers[0] })
        case .dsem:
            return DialogueAndQueryMetrics.dialogueStateExactMatch(predictions, examples)
        case .lfem:
            return DialogueAndQueryMetrics.logicalFormExactMatch(predictions, examples)
        case .rougeL:
            return 100 * zip(predictions, examples).map { GenerationMetrics.rougeL($0, $1.answers) }.reduce(0, +) / n
        case .bleu:
            return GenerationMetrics.bleu(predictions, examples.map(\.answers))
        case .nll:
            preconditionFailure("a corpus is scored by its likelihood (AnswerEvaluator.negativeLogLikelihood), not by predictions")
        }
    }
}
