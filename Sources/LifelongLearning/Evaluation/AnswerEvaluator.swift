import Foundation
import LifelongEngine
import LifelongModels

/// Scores a model on a task: each test example is prompted as `c q ANS` (no task token: no task
/// id is given at test time) and the answer is decoded in batches until EOS or a length cap.
public struct AnswerEvaluator {
    public var tokenizer: TaskTokenizer
    public var batchSize = 64
    /// Greedy by default; LAMOL's official code samples top-k 20 (`.sample(topK: 20)`).
    public var strategy: SamplingStrategy = .greedy
    /// Extra answer tokens allowed beyond the longest gold answer of the test set.
    public var answerSlack = 2
    public var maxLength = 1024

    public init(tokenizer: TaskTokenizer) { self.tokenizer = tokenizer }

    public struct Result: Codable, Sendable {
        public var score: Double
        public var predictions: [String]
        /// The task metric's secondary metrics by name (BLEU for a ROUGE-L task).
        public var secondary: [String: Double] = [:]
    }

    /// The task's score on `examples` (its test set by default). A text corpus is scored by the
    /// held-out NLL per token under the model itself (the predictor must be the model).
    public func evaluate(_ predictor: any AnswerPredictor, on task: TaskData, examples: [Example]? = nil, seed: UInt64 = 0) throws -> Result {
        let examples = examples ?? task.test
        if task.isCorpus {
            guard let model = predictor as? DecoderLM else { preconditionFailure("a corpus is scored by a model's likelihood") }
            return Result(score: negativeLogLikelihood(model, texts: examples.map(\.context)), predictions: [])
        }
        let cap = answerBudget((examples.flatMap(\.answers).map { tokenizer.encode($0).count }.max() ?? 8) + answerSlack, maxLength: maxLength)
        var predictions: [String] = []
        for start in stride(from: 0, to: examples.count, by: batchSize) {
            let chunk = examples[start..<min(start + batchSize, examples.count)]
            let prompts = chunk.map { example -> [Int] in
                let cq = contextQuestionTokens(example, tokenizer: tokenizer, maxLength: maxLength - cap - 2)
                return cq + [tokenizer.answerToken()]
            }
            let outputs = try predictor.answers(prompts: prompts, examples: chunk, of: task, options: GenerationOptions(
                maxNewTokens: cap + 1, strategy: strategy, stopTokens: [tokenizer.endOfExampleToken()], seed: seed &+ UInt64(start)))
            predictions += outputs.map { tokenizer.decode($0).trimmingCharacters(in: .whitespaces) }
        }
        let secondary = task.metric.secondary.map { ($0.rawValue, TaskMetrics.score($0, predictions: predictions, examples: examples)) }
        return Result(score: TaskMetrics.score(task.metric, predictions: predictions, examples: examples), predictions: predictions,
                      secondary: Dictionary(uniqueKeysWithValues: secondary))
    }
}

extension AnswerEvaluator {
    /// Mean negative log-likelihood per token (nats) of `texts`, each scored as the training
    /// sequence `EOS text EOS` (`LAMOLSequences.text`, cut to `maxLength`): every token of the
    /// text and the final EOS, predicted from what precedes it. exp of it is the perplexity.
    public func negativeLogLikelihood(_ model: DecoderLM, texts: [String]) -> Double {
        let eos = tokenizer.endOfExampleToken()
        let sequences = texts.map { LAMOLSequences.text($0, tokenizer: tokenizer, maxLength: maxLength) }
        var total = 0.0, count = 0
        for start in stride(from: 0, to: sequences.count, by: batchSize) {
            let chunk = sequences[start..<min(start + batchSize, sequences.count)]
            let padded = PaddedSequences(chunk.enumerated().map { ($0.offset, $0.element) }, padToken: eos)
            let targets = padded.targets.filter { $0 != LAMOLSequences.ignore }.count
            let mean = noGrad { crossEntropy(model.logits(padded.tokens), targets: padded.targets) }.item
            total += Double(mean) * Double(targets); count += targets
        }
        return count > 0 ? total / Double(count) : .nan
    }
}

/// New tokens allowed for an answer: `wanted`, but never more than leaves half of `maxLength` to
/// the prompt (a gold answer longer than that cannot be generated in full and scores as wrong).
public func answerBudget(_ wanted: Int, maxLength: Int) -> Int { min(wanted, max(1, maxLength / 2 - 2)) }

/// The tokens of "context question", cut from the left when longer than `maxLength`.
public func contextQuestionTokens(_ example: Example, tokenizer: TaskTokenizer, maxLength: Int) -> [Int] {
    let text = example.context.isEmpty ? example.question : example.context + " " + example.question
    let tokens = tokenizer.encode(text)
    return tokens.count > maxLength ? Array(tokens.suffix(maxLength)) : tokens
}
