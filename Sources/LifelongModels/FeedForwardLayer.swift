import LifelongEngine

/// What a decoder block's feed-forward part is: the architecture's dense `FeedForward`, or a layer
/// installed in its place (Lifelong-MoE's `MixtureOfExperts`), found and replaced by name with
/// `DecoderLM.replaceFeedForwardLayers`.
public protocol FeedForwardLayer: Module {
    func callAsFunction(_ x: Tensor) -> Tensor
    /// Installs `transform`'s result in place of each projection inside (named as in the checkpoint).
    func replaceLinearLayers(_ transform: (String, any LinearLayer) -> any LinearLayer)
    /// How to rebuild this layer around the dense one when a run is resumed (nil: the dense layer).
    var record: LayerRecord? { get }
}

extension FeedForward: FeedForwardLayer {
    public var record: LayerRecord? { nil }
}

extension DecoderLM {
    /// Calls `transform` with every block's feed-forward layer and its name (`model.layers.3.mlp`)
    /// and installs what it returns.
    public func replaceFeedForwardLayers(_ transform: (_ name: String, _ layer: any FeedForwardLayer) -> any FeedForwardLayer) {
        for (i, block) in blocks.enumerated() {
            let prefix = config.architecture == .gpt2 ? "transformer.h.\(i)" : "model.layers.\(i)"
            block.mlp = transform("\(prefix).\(block.names.mlp)", block.mlp)
        }
    }

    /// Every block's feed-forward layer with its name (`model.layers.3.mlp`).
    public var namedFeedForwardLayers: [(name: String, layer: any FeedForwardLayer)] {
        var result: [(name: String, layer: any FeedForwardLayer)] = []
        replaceFeedForwardLayers { name, layer in result.append((name, layer)); return layer }
        return result
    }

    /// Replaces the feed-forward layer of every `every`-th block (blocks every−1, 2·every−1, …:
    /// every other one for `every` 2, the GLaM layout) by a mixture of `experts` copies of it
    /// (upcycling). Blocks that already hold a mixture keep it. Returns the mixtures, in order.
    @discardableResult
    public func installMixturesOfExperts(every: Int, experts: Int, topK: Int, capacityFactor: Float?,
                                         rng: inout SeededGenerator?) -> [MixtureOfExperts] {
        precondition(every >= 1, "installMixturesOfExperts: every must be ≥ 1")
        var index = 0
        replaceFeedForwardLayers { name, layer in
            defer { index += 1 }
            guard index % every == every - 1, let dense = layer as? FeedForward else { return layer }
            return MixtureOfExperts(upcycling: dense, experts: experts, topK: topK, capacityFactor: capacityFactor, rng: &rng, path: name)
        }
        return mixtureOfExpertsLayers
    }

    /// The mixture-of-experts layers, in order.
    public var mixtureOfExpertsLayers: [MixtureOfExperts] { blocks.compactMap { $0.mlp as? MixtureOfExperts } }

    /// The load-balancing losses of the last forward pass, one per mixture-of-experts layer.
    public var auxiliaryLosses: [Tensor] { mixtureOfExpertsLayers.compactMap(\.auxiliaryLoss) }
}
