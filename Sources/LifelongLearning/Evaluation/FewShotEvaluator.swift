import Foundation
import LifelongEngine
import LifelongModels

/// k-shot in-context classification scored by ranking (lm-evaluation-harness's multiple-choice
/// `acc`): each test example is prompted with k solved training examples of its task,
///
///   "{context}\n{question} {answer}\n\n" × k, then "{context}\n{question}",
///
/// and the model's prediction is the label candidate c (every distinct answer of the task) with
/// the largest log-likelihood Σ_i log p(c_i | prompt, c_<i) of its tokens " {label}". Nothing
/// is generated, so a model with no answer token of its own (a pretrained LM, a text-corpus
/// learner) is scored the same way as a task learner. Any method can be scored so.
public struct FewShotEvaluator {
    public var tokenizer: TaskTokenizer
    public var shots = 5
    /// Test examples per task (the first ones of a seeded shuffle).
    public var examples = 100
    /// Longest prompt plus candidate, in tokens: longer prompts lose their first demonstrations.
    public var maxLength = 1024

    public init(tokenizer: TaskTokenizer) { self.tokenizer = tokenizer }

    /// Accuracy (0–100) on `task`; demonstrations are drawn from its training set with `seed`.
    public func accuracy(_ model: DecoderLM, on task: TaskData, seed: UInt64) -> Double {
        let labels = Array(Set(task.train.map { $0.answers[0] } + task.test.map { $0.answers[0] })).sorted()
        let candidates = labels.map { tokenizer.encode(" " + $0) }
        var shuffler = SeededShuffler(seed: seed)
        let tested = shuffler.shuffled(task.test).prefix(examples)
        guard !tested.isEmpty, !labels.isEmpty else { return .nan }
        var correct = 0
        for example in tested {
            let demonstrations = shuffler.shuffled(task.train.filter { $0.id != example.id }).prefix(shots)
            let text = demonstrations.map { Self.query($0) + " " + $0.answers[0] + "\n\n" }.joined() + Self.query(example)
            let room = maxLength - (candidates.map(\.count).max() ?? 0)
            let prompt = Array(tokenizer.encode(text).suffix(max(1, room)))
            let scores = model.continuationLogLikelihoods(prompt: prompt, continuations: candidates)
            let best = scores.indices.max { scores[$0] < scores[$1] }!
            if example.answers.contains(labels[best]) { correct += 1 }
        }
        return 100 * Double(correct) / Double(tested.count)
    }

    static func query(_ example: Example) -> String {
        example.context.isEmpty ? example.question : example.context + "\n" + example.question
    }
}

/// The few-shot accuracies of a run: before training and after the last stage.
public struct FewShotRecord: Codable, Sendable, Equatable {
    public var shots: Int
    public var tasks: [String]
    public var before: [Double]?
    public var after: [Double]?
    public init(shots: Int, tasks: [String]) { self.shots = shots; self.tasks = tasks }
}
