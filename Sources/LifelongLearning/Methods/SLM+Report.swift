import Foundation

extension SLM {
    /// The retrieval confusion matrix with each task's retrieval accuracy, and the storage
    /// (`method_statistics.retrieval` and `.storage`).
    public static func reportSections(_ r: StreamRunner.Results) -> [ReportSection] {
        guard let statistics = r.methodStatistics, case let .object(record)? = statistics["retrieval"],
              case let .array(tasks)? = record["tasks"], case let .array(confusion)? = record["confusion"],
              case let .array(accuracy)? = record["accuracy"] else { return [] }
        let names = tasks.compactMap(ReportFormat.string)
        let rows = zip(names, zip(confusion, accuracy)).map { name, cells -> [String] in
            guard case let .array(counts) = cells.0 else { return [name] }
            return [name] + counts.map { $0.count.map(String.init) ?? "—" } + [ReportFormat.score(cells.1.number.map { 100 * $0 })]
        }
        var note = "Mode: \(ReportFormat.string(record["mode"]) ?? "?")."
        if case let .object(storage)? = statistics["storage"], let perTask = storage["parameters_per_task"]?.count,
           let total = storage["parameters_total"]?.count {
            note += " Storage: \(perTask) parameters per task (slots and keys), \(total) in all"
            if case let .array(tokens)? = storage["training_tokens_per_task"] {
                let counts = tokens.compactMap(\.count).map(String.init)
                note += "; replaying every real training example would store \(counts.joined(separator: " / ")) tokens per task"
            }
            note += "."
        }
        let text = "Retrieval (SLM): test examples of each true task (row) by the task owning their top slot (column), in the final evaluation. " + note
        return [ReportSection(title: "Retrieval (SLM)", text: text, header: ["true task ↓ / retrieved →"] + names + ["retrieval accuracy %"],
                              rows: rows)]
    }

    /// The mean retrieval accuracy (%) of an evaluation, for the table of re-evaluations.
    public static func headlineFigures(_ statistics: [String: JSONValue]) -> [(name: String, value: Double)] {
        guard case let .object(record)? = statistics["retrieval"], case let .array(accuracy)? = record["accuracy"] else { return [] }
        let values = accuracy.compactMap(\.number)
        return values.isEmpty ? [] : [("retrieval accuracy %", 100 * values.reduce(0, +) / Double(values.count))]
    }
}
