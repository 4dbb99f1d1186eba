/// What a run reports as it goes; the CLI draws progress bars from these, or prints log lines.
public enum RunEvent {
    /// A line for the log (stage results, notes).
    case message(String)
    /// Stage `index` of `count` starts (a task, or the one multitask stage).
    case stageStarted(index: Int, count: Int, label: String)
    /// Pseudo-samples generated so far for the current stage.
    case generating(done: Int, total: Int)
    /// One optimiser step done.
    case trained(StepLog)
    /// Evaluating task `index` of `count`.
    case evaluating(index: Int, count: Int, task: String)
    /// A checkpoint was written.
    case checkpointed(path: String)
}
