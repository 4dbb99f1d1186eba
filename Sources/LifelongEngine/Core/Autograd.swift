/// Reverse-mode automatic differentiation.
///
/// Each op computes its forward result, then calls `recordBackward` with its inputs and a closure
/// that receives the gradient of the output and adds the gradients of the inputs (via
/// `gradPointer`). `backward()` orders the graph topologically and runs the closures from the loss
/// back to the leaves. Gradients of leaves (parameters) accumulate across calls until `zeroGrad`,
/// which is how gradient accumulation over micro-batches works.
public enum GradMode {
    /// False inside `noGrad { }`: ops record nothing, for inference and evaluation.
    @TaskLocal public static var isEnabled = true
    /// Inside `freezing(_:)`: parameters that act as constants; nil: none.
    @TaskLocal static var frozen: ParameterSet?

    /// Runs `body` with `parameters` acting as constants: no gradient is computed or stored for
    /// them. A training stage so scopes its trainable set to the stage, instead of flipping flags
    /// on tensors shared with other code; tensors created inside `body` are not affected.
    public static func freezing<R>(_ parameters: [Tensor], _ body: () throws -> R) rethrows -> R {
        try $frozen.withValue(parameters.isEmpty ? nil : ParameterSet(parameters), operation: body)
    }
}

/// A set of parameters by identity (they are alive for as long as the set is in scope).
final class ParameterSet: @unchecked Sendable {
    private let members: Set<ObjectIdentifier>
    init(_ parameters: [Tensor]) { members = Set(parameters.map(ObjectIdentifier.init)) }
    func contains(_ tensor: Tensor) -> Bool { members.contains(ObjectIdentifier(tensor)) }
}

/// Runs `body` without recording the autograd graph (inference mode).
public func noGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false, operation: body)
}

extension Tensor {
    /// Marks this op output as differentiable if any input is, and stores how to back-propagate.
    /// The closure receives the output gradient; it must *add* into the inputs' gradients.
    func recordBackward(_ inputs: [Tensor], _ backward: @escaping (UnsafeMutablePointer<Float>) -> Void) {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return }
        requiresGrad = true
        parents = inputs
        backwardFunction = backward
    }

    /// The gradient buffer to accumulate into, allocated (zeroed) on first use; nil when this
    /// tensor does not require a gradient, so backward kernels skip work for frozen inputs.
    /// Call it on the thread running `backward()`, before handing work to `Parallel`: freezing is
    /// task-local (`GradMode.freezing`), and a worker thread does not see it.
    func gradPointer() -> UnsafeMutablePointer<Float>? {
        guard requiresGrad else { return nil }
        if grad == nil { grad = TensorStorage(zeros: count) }
        return grad!.pointer
    }

    /// Back-propagates from this scalar (a loss). Leaf gradients accumulate; the graph is freed.
    public func backward() {
        precondition(count == 1, "backward() starts from a scalar loss, shape is \(shape)")
        precondition(requiresGrad, "backward() on a tensor that does not require a gradient")

        // Topological order by iterative depth-first search (no recursion limit on deep models).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (node, childrenDone) = stack.popLast() {
            if childrenDone { order.append(node); continue }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for parent in node.parents where parent.requiresGrad && !visited.contains(ObjectIdentifier(parent)) {
                stack.append((parent, false))
            }
        }

        gradPointer()![0] += 1
        // Popping (rather than iterating) drops the list's reference to each node once it is done,
        // so an activation is freed as soon as the last backward that reads it has run.
        while let node = order.popLast() {
            guard let backwardFunction = node.backwardFunction else { continue }
            if let g = node.grad { backwardFunction(g.pointer) }
            // Intermediate results are not needed any more: free the graph and their gradients.
            node.backwardFunction = nil
            node.parents = []
            node.grad = nil
        }
    }
}
