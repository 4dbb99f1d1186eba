import Foundation

/// Learning-rate multipliers over training steps, as in Hugging Face `transformers`' schedulers.
public enum LearningRateSchedule: Equatable, Sendable {
    case constant
    /// Linear warm-up from 0 over `warmupSteps`, then linear decay to 0 at `totalSteps`.
    case linear(warmupSteps: Int, totalSteps: Int)
    /// Linear warm-up, then half a cosine wave down to 0 at `totalSteps`.
    case cosine(warmupSteps: Int, totalSteps: Int)

    /// The factor to multiply the base learning rate by before step `step` (0-based).
    public func multiplier(atStep step: Int) -> Float {
        switch self {
        case .constant:
            return 1
        case let .linear(warmup, total):
            if step < warmup { return Float(step) / Float(max(1, warmup)) }
            return max(0, Float(total - step) / Float(max(1, total - warmup)))
        case let .cosine(warmup, total):
            if step < warmup { return Float(step) / Float(max(1, warmup)) }
            let progress = Float(step - warmup) / Float(max(1, total - warmup))
            return max(0, 0.5 * (1 + cos(Float.pi * progress)))
        }
    }
}
