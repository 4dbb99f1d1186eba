import ArgumentParser
import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels

/// The README's first command: fine-tune and LAMOL side by side on a stream of three synthetic
/// tasks, from the same freshly initialised byte-level GPT-2, printing both score matrices.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune vs LAMOL on a small synthetic task stream: forgetting and its repair, in a few minutes.")

    @OptionGroup var compute: ComputeOptions
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Training examples per task.") var trainExamples = 400
    @Option(help: "Epochs per task.") var epochs = 4
    @Option(help: "Where to write the runs.") var output = "runs/demo"

    func run() throws {
        try compute.apply()
        let stream = SyntheticTasks.demoStream(train: trainExamples, test: 60, seed: seed)
        var settings = TrainingSettings()
        settings.learningRate = 1e-3   // a model trained from scratch, not fine-tuned
        settings.warmupFraction = 0.05
        settings.epochs = epochs
        settings.tokensPerBatch = 192
        settings.maxLength = 64
        print("Stream: " + stream.map { "\($0.name) (\($0.train.count) train / \($0.test.count) test, e.g. \"\($0.train[0].context) \($0.train[0].question)\" → \"\($0.train[0].answers[0])\")" }.joined(separator: " → "))

        var summaries: [(String, StreamRunner.Results)] = []
        var finetune = Finetune()
        summaries.append(("finetune", try run(&finetune, stream, settings)))
        var lamol = LAMOL(prompting: .task, sampleRatio: 0.25, maxSampleLength: 40)
        summaries.append(("lamol", try run(&lamol, stream, settings)))

        print("")
        for (name, results) in summaries {
            print("\(name): score matrix R (row i = after task i, column j = task j; exact match, 0–100)")
            print("            " + results.tasks.map { $0.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined())
            for (i, row) in results.matrix.enumerated() {
                print("  " + results.tasks[i].padding(toLength: 10, withPad: " ", startingAt: 0)
                      + row.map { String(format: "%-10.1f", $0) }.joined())
            }
            if let m = results.metrics {
                print(String(format: "  ACC %.1f   BWT %.1f   forgetting %.1f   learning accuracy %.1f\n",
                             m.acc, m.bwt ?? 0, m.forgetting ?? 0, m.learningAcc))
            }
        }
        if let stats = (summaries.last?.1.pseudoSamples), !stats.isEmpty {
            print("LAMOL pseudo-samples: " + stats.map { "\($0.kept)/\($0.generated) of \($0.of) kept for \($0.forTask)" }.joined(separator: ", "))
        }
        try Report(runDirectories: ["\(output)/finetune", "\(output)/\(lamol.name)"]).write(to: output)
        print("Runs and report written to \(output)/ (open \(output)/report.html)")
    }

    func run<M: LifelongMethod>(_ method: inout M, _ stream: [TaskData], _ settings: TrainingSettings) throws -> StreamRunner.Results {
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        let model = DecoderLM(config: DecoderConfig(architecture: .gpt2, vocabSize: tokenizer.vocabularySize, hiddenSize: 128,
                                                    layerCount: 4, headCount: 4, maxPositions: 64), seed: seed)
        let directory = "\(output)/\(method.name)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var runner = StreamRunner(settings: settings, seed: seed, runDirectory: directory)
        runner.report = ProgressDisplay(epochs: settings.epochs).handle
        return try runner.run(&method, stream: stream, model: model, tokenizer: tokenizer, modelName: "gpt2-tiny-bytes (d128, 4 layers)")
    }
}
