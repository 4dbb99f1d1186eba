import LifelongEngine

/// What a projection of a model is: a plain `Linear`, or a layer a method installs in its place
/// (SLM's low-rank mixture around the same weight), found and replaced by path in the module tree
/// as mlx-swift's `update(modules:)` installs LoRA.
public protocol LinearLayer: Module {
    func callAsFunction(_ x: Tensor, _ pass: ForwardPass) -> Tensor
    /// The pretrained projection underneath (itself, for a plain `Linear`): quantised inference
    /// and weight loading act on it.
    var base: Linear { get }
}

extension Linear: LinearLayer {
    public var base: Linear { self }
    public func callAsFunction(_ x: Tensor, _ pass: ForwardPass) -> Tensor { self(x) }
}

/// What a decoder block's feed-forward part is: the family's dense layer, or a layer installed in
/// its place (Lifelong-MoE's `MixtureOfExperts`).
public protocol FeedForwardLayer: Module {
    func callAsFunction(_ x: Tensor, _ pass: ForwardPass) -> Tensor
}

/// A family's own dense feed-forward layer (GPT-2's MLP, Llama's gated MLP): what a mixture of
/// experts copies into its experts.
public protocol DenseFeedForward: FeedForwardLayer {
    /// A layer of the same shape with its own copy of the weights.
    func copy() -> Self
    /// The width of the layer's input (the model's hidden size).
    var inFeatures: Int { get }
}

/// A layer whose every weight is the mean of the `layers`' (Lifelong-MoE's `expert_init: mean`);
/// the layers are copies of one dense layer, so their parameters correspond one to one.
public func averagedLayer(_ layers: [any DenseFeedForward]) -> any DenseFeedForward {
    precondition(!layers.isEmpty, "averagedLayer needs at least one layer")
    let result = layers[0].copy()
    guard layers.count > 1 else { return result }
    let sources = layers.map(\.parameters)
    for (i, target) in result.parameters.enumerated() {
        var values = sources[0][i].scalars
        for other in sources.dropFirst() { for (j, v) in other[i].scalars.enumerated() { values[j] += v } }
        values = values.map { $0 / Float(layers.count) }
        values.withUnsafeBufferPointer { target.copy(from: $0) }
    }
    return result
}
