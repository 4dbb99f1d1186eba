/// A token sequence to train on, with its next-token targets (−100 where there is no loss) and
/// per-target weights.
public struct TrainingSequence: Codable, Sendable, Equatable {
    public var tokens: [Int]
    public var targets: [Int]
    public var weights: [Float]

    public init(tokens: [Int], targets: [Int], weights: [Float]) {
        precondition(tokens.count == targets.count && tokens.count == weights.count, "TrainingSequence: lengths differ")
        self.tokens = tokens; self.targets = targets; self.weights = weights
    }

    /// Why this sequence (read from a file) cannot be trained on, or nil.
    func problem(vocabularySize: Int, maxLength: Int) -> String? {
        guard tokens.count == targets.count, tokens.count == weights.count else {
            return "tokens, targets and weights differ in length (\(tokens.count), \(targets.count), \(weights.count))"
        }
        guard !tokens.isEmpty, tokens.count <= maxLength else { return "\(tokens.count) tokens; 1…\(maxLength) allowed (the model's positions)" }
        if let bad = tokens.first(where: { !(0..<vocabularySize).contains($0) }) { return "token id \(bad) is outside the vocabulary (0..<\(vocabularySize))" }
        if let bad = targets.first(where: { $0 != LAMOLSequences.ignore && !(0..<vocabularySize).contains($0) }) {
            return "target \(bad) is outside the vocabulary (0..<\(vocabularySize), or \(LAMOLSequences.ignore) for none)"
        }
        guard weights.allSatisfy({ $0.isFinite && $0 >= 0 }) else { return "a weight is negative or not finite" }
        return nil
    }
}

/// The two training formats of LAMOL (Sun et al., 2020), for an example tokenised as context c,
/// question q, answer a:
///
/// | format | tokens            | loss on the prediction of |
/// |--------|-------------------|---------------------------|
/// | QA     | c q ANS a EOS     | a EOS (from the ANS position on) |
/// | LM     | GEN c q ANS a EOS | every token after GEN, the ANS target weighted `answerWeight` |
///
/// GEN is the generic `__gen__` token (LAMOL^GEN) or the example's task token (LAMOL^TASK).
public enum LAMOLSequences {
    public static let ignore = -100

    /// `contextQuestion` is c q already joined (pseudo-samples come that way).
    public static func qa(contextQuestion: [Int], answer: [Int], ans: Int, eos: Int) -> TrainingSequence {
        let tokens = contextQuestion + [ans] + answer + [eos]
        var targets = [Int](repeating: ignore, count: tokens.count)
        for t in contextQuestion.count..<(tokens.count - 1) { targets[t] = tokens[t + 1] }
        return TrainingSequence(tokens: tokens, targets: targets, weights: [Float](repeating: 1, count: tokens.count))
    }

    public static func lm(contextQuestion: [Int], answer: [Int], gen: Int, ans: Int, eos: Int,
                          answerWeight: Float) -> TrainingSequence {
        let tokens = [gen] + contextQuestion + [ans] + answer + [eos]
        var targets = [Int](repeating: ignore, count: tokens.count)
        var weights = [Float](repeating: 1, count: tokens.count)
        for t in 0..<(tokens.count - 1) {
            targets[t] = tokens[t + 1]
            if tokens[t + 1] == ans { weights[t] = answerWeight }
        }
        return TrainingSequence(tokens: tokens, targets: targets, weights: weights)
    }

    /// A plain text (continual pretraining): EOS text EOS, every token after the first predicted.
    /// The leading EOS separates documents (GPT-2's convention) so that the text's first token is
    /// predicted too.
    public static func text(_ text: [Int], eos: Int) -> TrainingSequence {
        let tokens = [eos] + text + [eos]
        var targets = [Int](repeating: ignore, count: tokens.count)
        for t in 0..<(tokens.count - 1) { targets[t] = tokens[t + 1] }
        return TrainingSequence(tokens: tokens, targets: targets, weights: [Float](repeating: 1, count: tokens.count))
    }

    /// A corpus text as a training or scoring sequence: its tokens cut to fit `maxLength` with
    /// the two EOS around it.
    public static func text(_ text: String, tokenizer: TaskTokenizer, maxLength: Int) -> TrainingSequence {
        self.text(Array(tokenizer.encode(text).prefix(max(1, maxLength - 2))), eos: tokenizer.endOfExampleToken())
    }

    /// Why a generated pseudo-sample was not kept.
    public enum Discard: String, Codable, Sendable, CaseIterable, Error {
        case noAnswerToken = "no_ans"
        case severalAnswerTokens = "several_ans"
        case noEndToken = "no_eos"
    }

    /// Splits a generated sequence (after the prompt) into c q and a. LAMOL's rule: a sample with
    /// not exactly one ANS is discarded; a sample cut off by the length limit (no EOS) is
    /// discarded too, since its answer is incomplete.
    public static func parse(generated: [Int], ans: Int, eos: Int) -> Result<(contextQuestion: [Int], answer: [Int]), Discard> {
        guard let end = generated.firstIndex(of: eos) else { return .failure(.noEndToken) }
        let body = generated[..<end]
        let ansPositions = body.indices.filter { body[$0] == ans }
        guard ansPositions.count == 1 else { return .failure(ansPositions.isEmpty ? .noAnswerToken : .severalAnswerTokens) }
        return .success((Array(body[..<ansPositions[0]]), Array(body[(ansPositions[0] + 1)...])))
    }
}
