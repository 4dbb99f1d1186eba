import ArgumentParser
import Foundation
import LifelongLearning

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Convert public datasets to task directories and describe them.",
        subcommands: [Convert.self, Stats.self])

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a canonical task directory (train/dev/test.jsonl + task.json) from a dataset's original files.")
        @Argument(help: "A source: \(DatasetLoader.sources.joined(separator: ", ")).") var source: String
        @Option(help: "The data root holding the original files (default: $LIFELONG_DATA or ../shared/data).") var input: String?
        @Option(help: "The task directory to write.") var output: String

        func run() throws {
            let task = try DatasetLoader(root: input).load(source)
            try TaskDirectory.write(task, to: output)
            print("\(task.name): \(task.train.count) train, \(task.dev.count) dev, \(task.test.count) test → \(output)")
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts and lengths of task directories or data sources.")
        @Argument(help: "Task directories, or sources (\(DatasetLoader.sources.joined(separator: ", "))).") var tasks: [String]
        @Option(help: "The data root for sources (default: $LIFELONG_DATA or ../shared/data).") var input: String?

        func run() throws {
            print("| task | metric | split | examples | context chars (mean / max) | answer chars (mean / max) | distinct answers |")
            print("|---|---|---|---|---|---|---|")
            for name in tasks {
                let isDirectory = FileManager.default.fileExists(atPath: (name as NSString).appendingPathComponent("train.jsonl"))
                let task = try isDirectory ? TaskDirectory.read(name) : DatasetLoader(root: input).load(name)
                for (split, examples) in [("train", task.train), ("dev", task.dev), ("test", task.test)] where !examples.isEmpty {
                    let contexts = examples.map(\.context.count), answers = examples.map { $0.answers[0].count }
                    print("| \(task.name) | \(task.metric.rawValue) | \(split) | \(examples.count) | "
                          + String(format: "%.1f / %d | %.1f / %d | %d |", Double(contexts.reduce(0, +)) / Double(examples.count),
                                   contexts.max()!, Double(answers.reduce(0, +)) / Double(examples.count), answers.max()!,
                                   Set(examples.map { $0.answers[0] }).count))
                }
            }
        }
    }
}
