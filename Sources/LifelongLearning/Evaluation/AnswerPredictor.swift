import LifelongModels

/// What answers test questions at evaluation: continues each prompt (`c q ANS`, no task id) and
/// returns the new tokens. A plain decoder does it by decoding; a method whose model depends on
/// the example (SLM retrieves per example) provides its own.
public protocol AnswerPredictor {
    /// `examples[i]` is the example `prompts[i]` was made from, a test example of `task`. The task
    /// is not a task id given to the model: a predictor uses it only for bookkeeping (SLM's
    /// retrieval accuracy) or in an ablation that says so (SLM's `oracle_task`).
    func answers(prompts: [[Int]], examples: ArraySlice<Example>, of task: TaskData, options: GenerationOptions) throws -> [[Int]]
}

extension DecoderLM: AnswerPredictor {
    public func answers(prompts: [[Int]], examples: ArraySlice<Example>, of task: TaskData, options: GenerationOptions) throws -> [[Int]] {
        try generate(prompts: prompts, options: options)
    }
}
