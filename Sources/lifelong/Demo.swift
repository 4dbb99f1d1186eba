import ArgumentParser
import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels

/// The README's first command. Until the lifelong-learning demo exists: a tiny GPT-2 trained from
/// scratch on a handful of sentences, showing the loss fall and the model completing them.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a tiny language model from scratch and show it learn.")

    @OptionGroup var compute: ComputeOptions
    @Option(help: "Training steps.") var steps = 200
    @Option(help: "Random seed.") var seed: UInt64 = 7

    static let corpus = [
        "the cat sat on the mat and purred.",
        "a dog ran in the park after the ball.",
        "birds sing at dawn in the old oak tree.",
        "rain falls softly on the quiet sea.",
        "the sun sets behind the red hills.",
        "children laugh as they fly a kite.",
    ]

    func run() throws {
        try compute.apply()
        let tokenizer = ByteTokenizer()
        let rows = Self.corpus.map { tokenizer.encode($0) + [tokenizer.endOfText] }
        let length = rows.map(\.count).max()!
        let batch = TokenBatch(
            ids: rows.flatMap { $0 + [Int](repeating: tokenizer.endOfText, count: length - $0.count) },
            batchSize: rows.count, length: length,
            mask: rows.flatMap { row in (0..<length).map { $0 < row.count } })

        let config = DecoderConfig(architecture: .gpt2, vocabSize: tokenizer.vocabularySize, hiddenSize: 64,
                                   layerCount: 2, headCount: 4, maxPositions: 64)
        let model = DecoderLM(config: config, seed: seed)
        let optimizer = AdamW(parameters: model.parameters, learningRate: 3e-3, weightDecay: 0.01)
        let schedule = LearningRateSchedule.linear(warmupSteps: 10, totalSteps: steps)
        print("Training a \(model.parameterCount)-parameter GPT-2 from scratch on \(rows.count) sentences "
              + "(byte tokens, \(Parallel.threads) threads, \(BLAS.name)).")

        let start = Date()
        for step in 0..<steps {
            optimizer.learningRate = 3e-3 * schedule.multiplier(atStep: step)
            let loss = model.trainStep(on: batch, optimizer: optimizer)
            if step % 20 == 0 || step == steps - 1 {
                let bar = String(repeating: "█", count: max(0, min(40, Int(loss * 7))))
                print(String(format: "step %4d  loss %.4f  %@", step, loss, bar))
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let tokens = Double(steps * rows.reduce(0) { $0 + $1.count })
        print(String(format: "%.1f s, %.0f tokens/s\n", seconds, tokens / seconds))

        for prompt in ["the cat", "a dog ran", "rain"] {
            let continuation = model.greedyContinuation(of: tokenizer.encode(prompt), maxNewTokens: 48, stopToken: tokenizer.endOfText)
            print("  \(prompt) → \(prompt)\(tokenizer.decode(continuation))")
        }
    }
}
