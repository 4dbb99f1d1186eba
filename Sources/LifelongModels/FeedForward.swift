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
    init(copying other: FeedForward) {
        func copy(_ layer: (any LinearLayer)?) -> (any LinearLayer)? {
            layer.map { l in
                Linear(weight: Tensor(l.base.weight.scalars, shape: l.base.weight.shape, requiresGrad: true),
                       bias: l.base.bias.map { Tensor($0.scalars, shape: $0.shape, requiresGrad: true) }, layout: l.base.layout)
            }
        }
        architecture = other.architecture
        up = copy(other.up)!; down = copy(other.down)!; gate = copy(other.gate)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch architecture {
        case .gpt2: return down(geluTanh(up(x)))
        case .llama: return down(swiGLU(gate: gate!(x), up: up(x)))
        }
    }
}
