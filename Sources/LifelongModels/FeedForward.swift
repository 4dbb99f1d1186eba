import LifelongEngine

/// The position-wise feed-forward network of one decoder block.
///
/// GPT-2: `c_proj(gelu_tanh(c_fc(x)))`. Llama: `down_proj(silu(gate_proj(x)) ⊙ up_proj(x))`.
public final class FeedForward: Module {
    let architecture: DecoderConfig.Architecture
    private(set) var up: any LinearLayer, down: any LinearLayer
    private(set) var gate: (any LinearLayer)?

    init(config: DecoderConfig, rng: inout SeededGenerator?) {
        architecture = config.architecture
        let d = config.hiddenSize, hidden = config.intermediateSize
        let residualStd = 0.02 / Float(2 * config.layerCount).squareRoot()
        switch config.architecture {
        case .gpt2:
            up = Linear(inFeatures: d, outFeatures: hidden, bias: true, layout: .inOut, std: 0.02, rng: &rng)
            down = Linear(inFeatures: hidden, outFeatures: d, bias: true, layout: .inOut, std: residualStd, rng: &rng)
            gate = nil
        case .llama:
            gate = Linear(inFeatures: d, outFeatures: hidden, bias: false, layout: .outIn, std: 0.02, rng: &rng)
            up = Linear(inFeatures: d, outFeatures: hidden, bias: false, layout: .outIn, std: 0.02, rng: &rng)
            down = Linear(inFeatures: hidden, outFeatures: d, bias: false, layout: .outIn, std: residualStd, rng: &rng)
        }
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        switch architecture {
        case .gpt2: return scoped("c_fc", up) + scoped("c_proj", down)
        case .llama: return scoped("gate_proj", gate!) + scoped("up_proj", up) + scoped("down_proj", down)
        }
    }

    /// Installs `transform`'s result in place of each projection (named as in the checkpoint).
    public func replaceLinearLayers(_ transform: (String, any LinearLayer) -> any LinearLayer) {
        switch architecture {
        case .gpt2: up = transform("c_fc", up); down = transform("c_proj", down)
        case .llama:
            gate = transform("gate_proj", gate!); up = transform("up_proj", up); down = transform("down_proj", down)
        }
    }

    /// A copy with its own weights (an upcycled expert starts as the dense layer).
    convenience init(copying other: FeedForward) {
        self.init(averaging: [other])
    }

    /// A layer whose every weight is the mean of the `layers`' (Lifelong-MoE's `expert_init: mean`).
    public init(averaging layers: [FeedForward]) {
        precondition(!layers.isEmpty, "FeedForward(averaging:) needs at least one layer")
        func mean(_ tensors: [Tensor]) -> Tensor {
            var values = tensors[0].scalars
            for t in tensors.dropFirst() { for (i, v) in t.scalars.enumerated() { values[i] += v } }
            if tensors.count > 1 { values = values.map { $0 / Float(tensors.count) } }
            return Tensor(values, shape: tensors[0].shape, requiresGrad: true)
        }
        func average(_ pick: (FeedForward) -> (any LinearLayer)?) -> (any LinearLayer)? {
            let bases = layers.compactMap(pick).map(\.base)
            guard let first = bases.first else { return nil }
            return Linear(weight: mean(bases.map(\.weight)), bias: first.bias.map { _ in mean(bases.map { $0.bias! }) }, layout: first.layout)
        }
        architecture = layers[0].architecture
        up = average(\.up)!; down = average(\.down)!; gate = average(\.gate)
    }

    /// The width of the layer's input (the model's hidden size).
    public var inFeatures: Int { up.base.inFeatures }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch architecture {
        case .gpt2: return down(geluTanh(up(x)))
        case .llama: return down(swiGLU(gate: gate!(x), up: up(x)))
        }
    }
}
