import LifelongEngine

/// What a decoder block's feed-forward part is: the architecture's dense `FeedForward`, or a layer
/// installed in its place (Lifelong-MoE's `MixtureOfExperts`), found and replaced by name with
/// `DecoderLM.replaceFeedForwardLayers`.
public protocol FeedForwardLayer: Module {
    func callAsFunction(_ x: Tensor) -> Tensor
    /// Installs `transform`'s result in place of each projection inside (named as in the checkpoint).
    func replaceLinearLayers(_ transform: (String, any LinearLayer) -> any LinearLayer)
}

extension FeedForward: FeedForwardLayer {}

extension DecoderLM {
    /// Calls `transform` with every block's feed-forward layer and its name (`model.layers.3.mlp`)
    /// and installs what it returns.
    public func replaceFeedForwardLayers(_ transform: (_ name: String, _ layer: any FeedForwardLayer) -> any FeedForwardLayer) {
        for (i, block) in blocks.enumerated() {
            let prefix = config.architecture == .gpt2 ? "transformer.h.\(i)" : "model.layers.\(i)"
            block.mlp = transform("\(prefix).\(block.names.mlp)", block.mlp)
        }
    }

    /// The mixture-of-experts layers, in order.
    public var mixtureOfExpertsLayers: [MixtureOfExperts] { blocks.compactMap { $0.mlp as? MixtureOfExperts } }

    /// The load-balancing losses of the last forward pass, one per mixture-of-experts layer.
    public var auxiliaryLosses: [Tensor] { mixtureOfExpertsLayers.compactMap(\.auxiliaryLoss) }
}
