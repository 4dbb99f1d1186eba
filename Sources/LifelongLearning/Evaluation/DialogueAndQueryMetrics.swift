/// The two structured metrics of decaNLP: dsEM for WOZ dialogue states, lfEM for WikiSQL queries.
package enum DialogueAndQueryMetrics {
    /// A WOZ answer, "slot: value, slot: value; requested, requested": what the turn informs and
    /// what it requests (either part may be empty). Lower-cased and trimmed.
    public static func dialogueDelta(_ answer: String) -> (inform: [String: String], request: Set<String>) {
        let parts = answer.lowercased().split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        var inform: [String: String] = [:]
        for pair in parts[0].split(separator: ",") {
            let slotValue = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if slotValue.count == 2, !slotValue[0].isEmpty { inform[slotValue[0]] = slotValue[1] }
        }
        let request = parts.count > 1
            ? Set(parts[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
            : []
        return (inform, request)
    }

    /// Joint-goal accuracy (decaNLP's dsEM): within each dialogue, turn by turn, the informed slots
    /// of the predictions and of the gold answers are accumulated (a later value of a slot replaces
    /// the earlier one); a turn counts when the two accumulated states are equal. 0–100.
    public static func dialogueStateExactMatch(_ predictions: [String], _ examples: [Example]) -> Double {
        guard !examples.isEmpty else { return 0 }
        // Turns grouped by dialogue, in turn order (examples without a dialogue are one-turn dialogues).
        let order = examples.indices.sorted { a, b in
            let (x, y) = (examples[a], examples[b])
            return (x.dialogue ?? x.id, x.turn ?? 0, a) < (y.dialogue ?? y.id, y.turn ?? 0, b)
        }
        var correct = 0, dialogue: String? = nil
        var predicted: [String: String] = [:], gold: [String: String] = [:]
        for i in order {
            let id = examples[i].dialogue ?? examples[i].id
            if id != dialogue { dialogue = id; predicted = [:]; gold = [:] }
            predicted.merge(dialogueDelta(predictions[i]).inform) { $1 }
            gold.merge(dialogueDelta(examples[i].answers[0]).inform) { $1 }
            if predicted == gold { correct += 1 }
        }
        return 100 * Double(correct) / Double(examples.count)
    }

    /// A WikiSQL query in decaNLP's plain form, "SELECT [AGG] column FROM table [WHERE c op v AND …]",
    /// reduced to what a logical form compares: the select part, and the set of conditions (their
    /// order does not matter). Case and spacing are normalised. Without the tables the values cannot
    /// be executed, so this is a normalised exact match of the query text, condition order aside.
    public static func queryForm(_ query: String) -> (select: String, conditions: Set<String>) {
        let text = query.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let parts = text.components(separatedBy: " where ")
        let conditions = parts.count > 1 ? Set(parts[1...].joined(separator: " where ").components(separatedBy: " and ")) : []
        return (parts[0], conditions)
    }

    /// lfEM: the share of predictions whose query form equals a gold one's. 0–100.
    public static func logicalFormExactMatch(_ predictions: [String], _ examples: [Example]) -> Double {
        guard !examples.isEmpty else { return 0 }
        let matches = zip(predictions, examples).filter { prediction, example in
            let p = queryForm(prediction)
            return example.answers.contains { let g = queryForm($0); return g.select == p.select && g.conditions == p.conditions }
        }
        return 100 * Double(matches.count) / Double(examples.count)
    }
}
