import LifelongEngine

/// A layer or a model: something that owns parameters under stable names.
///
/// Names are the checkpoint's own (e.g. `transformer.h.0.attn.c_attn.weight` for GPT-2,
/// `model.layers.0.self_attn.q_proj.weight` for Llama), so loading and saving is a 1:1 mapping.
public protocol Module: AnyObject {
    /// This module's parameters and its children's, keyed by name relative to this module.
    var namedParameters: [(name: String, tensor: Tensor)] { get }
}

extension Module {
    public var parameters: [Tensor] { namedParameters.map(\.tensor) }

    /// Number of scalar parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Freezes (false) or unfreezes (true) every parameter.
    public func setTrainable(_ trainable: Bool) {
        for p in parameters { p.requiresGrad = trainable }
    }
}

/// A child's parameters with `prefix.` in front of their names.
func scoped(_ prefix: String, _ child: Module) -> [(name: String, tensor: Tensor)] {
    child.namedParameters.map { ("\(prefix).\($0.name)", $0.tensor) }
}

/// A parameter's value at initialisation.
enum Initializer {
    case zeros, ones, normal(std: Float)

    /// Without a generator (a model about to be loaded from a checkpoint) every parameter starts
    /// at zero: drawing random values that are overwritten at once would waste the load time.
    func make(_ shape: [Int], rng: inout SeededGenerator?) -> Tensor {
        switch (self, rng) {
        case (.ones, _): return Tensor([Float](repeating: 1, count: shape.reduce(1, *)), shape: shape, requiresGrad: true)
        case (.normal(let std), .some): return Tensor(randomNormal: shape, std: std, rng: &rng!, requiresGrad: true)
        default: return Tensor(zeros: shape, requiresGrad: true)
        }
    }
}
