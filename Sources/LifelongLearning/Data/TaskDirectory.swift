import Foundation
import LifelongFormats

/// The canonical on-disk form of a task: a directory with `train.jsonl`, optional `dev.jsonl`,
/// `test.jsonl` (one JSON object per line: id, context, question, answers; dialogue tasks add
/// `dialogue` and `turn`) and an optional `task.json` (`{"name": …, "metric": "em|nem|nf1|…"}`).
public enum TaskDirectory {
    public static func read(_ directory: String) throws -> TaskData {
        let url = URL(fileURLWithPath: directory)
        var name = url.lastPathComponent, metric = TaskMetric.em
        let info = url.appendingPathComponent("task.json").path
        if FileManager.default.fileExists(atPath: info) {
            guard let data = try? UserFile.data(info) else { throw FormatError.io(file: info, "cannot read the file") }
            guard let json = try StrictJSON.object(data, file: info) as? [String: Any] else { throw FormatError(file: info, "not a JSON object") }
            if let n = json["name"] { guard let s = n as? String else { throw FormatError(file: info, "field 'name' is not a string") }; name = s }
            if let problem = TaskData.nameProblem(name) { throw FormatError(file: info, "field 'name': '\(name)' \(problem)") }
            if let m = json["metric"] {
                let metrics = TaskMetric.allCases.filter { $0 != .nll }
                guard let s = m as? String, let parsed = TaskMetric(rawValue: s), metrics.contains(parsed) else {
                    throw FormatError(file: info, "field 'metric' must be one of \(metrics.map(\.rawValue).joined(separator: ", ")) "
                                      + "(nll scores text corpora: give those as corpus:DIR)")
                }
                metric = parsed
            }
        }
        func split(_ file: String, required: Bool) throws -> [Example] {
            let path = url.appendingPathComponent(file).path
            guard FileManager.default.fileExists(atPath: path) else {
                if required { throw FormatError(file: path, "missing (a task directory needs train.jsonl and test.jsonl)") }
                return []
            }
            let examples = try readJSONLines(path)
            if required && examples.isEmpty { throw FormatError(file: path, "holds no examples") }
            return examples
        }
        return TaskData(name: name, metric: metric, train: try split("train.jsonl", required: true),
                        dev: try split("dev.jsonl", required: false), test: try split("test.jsonl", required: true))
    }

    /// Examples from a JSON-lines file; an error names the line and the field.
    public static func readJSONLines(_ path: String) throws -> [Example] {
        let text = try UserFile.text(path)
        var examples: [Example] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let where_ = "\(path):\(index + 1)"
            guard let json = try StrictJSON.object(Data(trimmed.utf8), file: path, firstLine: index + 1) as? [String: Any] else {
                throw FormatError(file: where_, "not a JSON object")
            }
            func string(_ key: String) throws -> String {
                guard let value = json[key] as? String else { throw FormatError(file: where_, "field '\(key)' is missing or not a string") }
                return value
            }
            guard let answers = json["answers"] as? [String], !answers.isEmpty, !answers.contains(where: \.isEmpty) else {
                throw FormatError(file: where_, "field 'answers' must be a non-empty array of non-empty strings")
            }
            let fields = JSONFields(path: where_, values: json)
            let id = try fields.string("id") ?? (try fields.optionalInt("id", in: Int.min...Int.max)).map(String.init) ?? "\(index + 1)"
            examples.append(Example(id: id, context: try string("context"), question: try string("question"), answers: answers,
                                    dialogue: try fields.string("dialogue"), turn: try fields.optionalInt("turn", in: 0...1_000_000)))
        }
        return examples
    }

    /// Writes a task directory (atomically, file by file).
    public static func write(_ task: TaskData, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for (file, examples) in [("train.jsonl", task.train), ("dev.jsonl", task.dev), ("test.jsonl", task.test)] where !examples.isEmpty || file != "dev.jsonl" {
            var data = Data()
            for example in examples { data.append(try encoder.encode(example)); data.append(0x0A) }
            try writeAtomically(data, to: (directory as NSString).appendingPathComponent(file))
        }
        let info = try JSONSerialization.data(withJSONObject: ["name": task.name, "metric": task.metric.rawValue], options: [.sortedKeys])
        try writeAtomically(info, to: (directory as NSString).appendingPathComponent("task.json"))
    }
}
