import CKernels
import Foundation

/// AdamW (Loshchilov & Hutter): Adam with weight decay decoupled from the gradient, written in the
/// same order of operations as PyTorch's `torch.optim.AdamW` so that results agree to rounding:
///   p ← p · (1 − lr·wd)
///   m ← m + (g − m)(1 − β₁)          v ← β₂·v + (1 − β₂)·g²
///   p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// The element-wise update is `lf_adamw_update` (CKernels/Optimizer.c).
public final class AdamW {
    /// Parameters sharing one weight decay (biases and norm weights usually get none).
    public struct Group {
        public var parameters: [Tensor]
        public var weightDecay: Float
        public init(parameters: [Tensor], weightDecay: Float) {
            self.parameters = parameters; self.weightDecay = weightDecay
        }
    }

    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    public let groups: [Group]
    /// Number of steps taken (t in the bias corrections).
    public private(set) var stepCount = 0
    // First and second moments, per parameter, allocated at the first step.
    private var moments: [ObjectIdentifier: (m: TensorStorage, v: TensorStorage)] = [:]

    public init(groups: [Group], learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.groups = groups
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
    }

    /// The usual split: matrices decay, one-dimensional parameters (biases, norm weights) do not.
    /// Frozen parameters are left out.
    public convenience init(parameters: [Tensor], learningRate: Float, weightDecay: Float,
                            beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        let trainable = parameters.filter(\.requiresGrad)
        self.init(groups: [
            Group(parameters: trainable.filter { $0.shape.count >= 2 }, weightDecay: weightDecay),
            Group(parameters: trainable.filter { $0.shape.count < 2 }, weightDecay: 0),
        ], learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
    }

    /// One update of every parameter that has a gradient.
    public func step() {
        stepCount += 1
        let t = Float(stepCount)
        let stepSize = learningRate / (1 - pow(beta1, t))
        let correction2Sqrt = (1 - pow(beta2, t)).squareRoot()
        let (b1, b2, eps, lr) = (beta1, beta2, epsilon, learningRate)
        for group in groups {
            let decay = 1 - lr * group.weightDecay
            for p in group.parameters {
                guard let grad = p.grad else { continue }
                let state = moments[ObjectIdentifier(p)] ?? (TensorStorage(zeros: p.count), TensorStorage(zeros: p.count))
                moments[ObjectIdentifier(p)] = state
                let w = p.data.baseAddress!, g = grad.pointer, m = state.m.pointer, v = state.v.pointer
                Parallel.forRanges(p.count, costPerItem: 8) { range in
                    lf_adamw_update(w + range.lowerBound, g + range.lowerBound, m + range.lowerBound, v + range.lowerBound,
                                    range.count, decay, b1, b2, stepSize, correction2Sqrt, eps)
                }
            }
        }
    }

    /// Forgets all gradients (the start of the next accumulation window).
    public func zeroGrad() {
        for group in groups { for p in group.parameters { p.zeroGrad() } }
    }

    /// The moments of `parameter`, for checkpoints (nil before its first update).
    public func moments(of parameter: Tensor) -> (m: TensorStorage, v: TensorStorage)? {
        moments[ObjectIdentifier(parameter)]
    }

    /// Restores the state saved from `moments(of:)` and `stepCount`.
    public func restore(stepCount: Int, moments restored: [(Tensor, m: [Float], v: [Float])]) {
        self.stepCount = stepCount
        for (p, m, v) in restored {
            precondition(m.count == p.count && v.count == p.count, "optimizer state size mismatch")
            let state = (TensorStorage(zeros: p.count), TensorStorage(zeros: p.count))
            m.withUnsafeBufferPointer { state.0.pointer.update(from: $0.baseAddress!, count: p.count) }
            v.withUnsafeBufferPointer { state.1.pointer.update(from: $0.baseAddress!, count: p.count) }
            moments[ObjectIdentifier(p)] = state
        }
    }
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm` (PyTorch's
/// `clip_grad_norm_`: coefficient maxNorm / (norm + 1e-6), applied when below 1).
/// Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var squares: Double = 0
    for p in parameters {
        guard let g = p.grad else { continue }
        for i in 0..<p.count { squares += Double(g.pointer[i]) * Double(g.pointer[i]) }
    }
    let norm = Float(squares.squareRoot())
    let coefficient = maxNorm / (norm + 1e-6)
    if coefficient < 1 {
        for p in parameters {
            guard let g = p.grad else { continue }
            for i in 0..<p.count { g.pointer[i] *= coefficient }
        }
    }
    return norm
}
