import ArgumentParser
import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels

/// The README's first command: fine-tune and LAMOL side by side on the stream of three synthetic
/// tasks, from the same freshly initialised byte-level GPT-2, printing both score matrices. Each is
/// an ordinary run (`config.yaml`, checkpoints), so `lifelong sample` and `--resume` work on it.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune vs LAMOL on a small synthetic task stream: forgetting and its repair, in a few minutes.")

    @OptionGroup var compute: ComputeOptions
    @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Training examples per task (at most 400).") var trainExamples = 400
    @Option(parsing: .unconditional, help: "Epochs per task.") var epochs = 4
    @Option(help: "Where to write the runs (replaced if they exist).") var output = "runs/demo"

    /// The demo's runs: examples/synthetic-methods.yaml with fine-tuning and with LAMOL^TASK.
    static let config = """
        model: scratch
        scratch: {architecture: gpt2, hidden: 128, layers: 4, heads: 4, positions: 64}
        stream: synthetic
        training: {learning_rate: 1.0e-3, warmup_fraction: 0.05, tokens_per_batch: 192, max_length: 64}
        evaluation: {decoding: greedy, batch_size: 64}
        """

    func validate() throws {
        guard (1...400).contains(trainExamples) else { throw ValidationError("--train-examples must be in 1…400") }
        guard (1...1000).contains(epochs) else { throw ValidationError("--epochs must be in 1…1000") }
    }

    func run() throws {
        try compute.apply()
        let common = ["seed=\(seed)", "training.epochs=\(epochs)"] + (trainExamples < 400 ? ["subsample.train=\(trainExamples)"] : [])
        let finetune = try RunConfig(yaml: Self.config, overrides: common + ["name=finetune", "method.name=finetune"], source: "demo")
        let lamol = try RunConfig(yaml: Self.config, overrides: common + ["name=lamol-task", "method.name=lamol", "method.sample_ratio=0.25",
                                                                          "method.max_sample_length=40"], source: "demo")
        var summaries: [(String, StreamRunner.Results)] = []
        for config in [finetune, lamol] {
            summaries.append((config.methodName, try Lifelong.execute(config, runs: output, resume: false, overwrite: true).0))
        }
        print("")
        for (name, results) in summaries { printMatrix(name, results) }
        if let stats = (summaries.last?.1.pseudoSamples), !stats.isEmpty {
            print("LAMOL pseudo-samples: " + stats.map { "\($0.kept)/\($0.generated) of \($0.of) kept for \($0.forTask)" }.joined(separator: ", "))
        }
        try Report(runDirectories: ["\(output)/finetune", "\(output)/lamol-task"]).write(to: output)
        print("Runs and report written to \(output)/ (open \(output)/report.html)")
    }

    func printMatrix(_ name: String, _ results: StreamRunner.Results) {
        print("\(name): score matrix R (row i = after task i, column j = task j; exact match, 0–100)")
        print("            " + results.tasks.map { $0.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined())
        for (i, row) in results.matrix.enumerated() {
            print("  " + results.tasks[i].padding(toLength: 10, withPad: " ", startingAt: 0) + row.map { String(format: "%-10.1f", $0) }.joined())
        }
        if let m = results.metrics {
            print(String(format: "  ACC %.1f   BWT %.1f   forgetting %.1f   learning accuracy %.1f\n",
                         m.acc, m.bwt ?? 0, m.forgetting ?? 0, m.learningAcc))
        }
    }
}
