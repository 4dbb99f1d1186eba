import LifelongModels

/// What answers test questions at evaluation: continues each prompt (`c q ANS`, no task id) and
/// returns the new tokens. A plain decoder does it by decoding; a method whose model depends on
/// the example (SLM retrieves per example) provides its own.
public protocol AnswerPredictor {
    /// `examples[i]` is the example `prompts[i]` was made from.
    func answers(prompts: [[Int]], examples: ArraySlice<Example>, options: GenerationOptions) -> [[Int]]
}

extension DecoderLM: AnswerPredictor {
    public func answers(prompts: [[Int]], examples: ArraySlice<Example>, options: GenerationOptions) -> [[Int]] {
        generate(prompts: prompts, options: options)
    }
}
