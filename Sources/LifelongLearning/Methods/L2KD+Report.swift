import Foundation

extension L2KD {
    /// Each teacher's score on its own task beside the learner's, right after the task and at the
    /// end (`method_statistics.teachers`).
    public static func reportSections(_ r: StreamRunner.Results) -> [ReportSection] {
        guard case let .array(records)? = r.methodStatistics?["teachers"] else { return [] }
        let rows = records.compactMap { record -> [String]? in
            guard case let .string(task)? = record["task"], let j = r.tasks.firstIndex(of: task) else { return nil }
            let afterTask = j < r.matrix.count && r.matrix.count == r.tasks.count ? r.matrix[j][j] : nil
            let equal = record["answers_equal_to_gold"]?.count, total = record["answers"]?.count
            return [task, ReportFormat.score(record["score"]?.number), ReportFormat.score(afterTask),
                    ReportFormat.score(r.matrix.last.map { $0[j] }), equal.flatMap { e in total.map { "\(e) / \($0)" } } ?? "—"]
        }
        guard !rows.isEmpty else { return [] }
        return [ReportSection(title: "Teachers (L2KD)", text: "Each teacher's score on its own task beside the learner's:",
                              header: ["task", "teacher", "learner after the task", "learner at the end", "Seq-KD answers = gold"],
                              rows: rows)]
    }
}
