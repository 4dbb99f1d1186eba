import LifelongEngine

/// A fully connected layer: `weight` (and optional `bias`) applied over the last dimension.
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let layout: WeightLayout
    /// The same weight in its file's quantised format, used instead of `weight` for inference
    /// (set when a quantised model is loaded for inference; see `DecoderLM.dropQuantizedWeights`).
    public internal(set) var quantized: QuantizedMatrix? {
        willSet { precondition(newValue == nil || (bias == nil && layout == .outIn), "quantised Linear needs [out, in] and no bias") }
    }

    init(inFeatures: Int, outFeatures: Int, bias: Bool, layout: WeightLayout, std: Float, rng: inout SeededGenerator?) {
        self.layout = layout
        let shape = layout == .outIn ? [outFeatures, inFeatures] : [inFeatures, outFeatures]
        weight = Initializer.normal(std: std).make(shape, rng: &rng)
        self.bias = bias ? Initializer.zeros.make([outFeatures], rng: &rng) : nil
    }

    /// A layer around existing tensors.
    init(weight: Tensor, bias: Tensor?, layout: WeightLayout) {
        self.weight = weight; self.bias = bias; self.layout = layout
    }

    public var ownParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// A layer with its own copy of the weights (an upcycled expert starts as the dense layer).
    public func copy() -> Linear {
        func copied(_ t: Tensor) -> Tensor { Tensor(t.scalars, shape: t.shape, requiresGrad: true) }
        return Linear(weight: copied(weight), bias: bias.map(copied), layout: layout)
    }

    public var inFeatures: Int { layout == .outIn ? weight.shape[1] : weight.shape[0] }
    public var outFeatures: Int { layout == .outIn ? weight.shape[0] : weight.shape[1] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let quantized {
            // Training would update `weight` and leave the quantised copy stale: refuse it.
            precondition(!GradMode.isEnabled, "a layer holding quantised weights runs inference only: call dropQuantizedWeights() before training")
            return linear(x, quantized)
        }
        return linear(x, weight, bias, layout: layout)
    }
}

/// LayerNorm (weight and bias) or RMSNorm (weight only) over the last dimension.
public final class Norm: Module {
    public enum Kind: Sendable { case layerNorm, rmsNorm }
    public let kind: Kind
    public let epsilon: Float
    public let weight: Tensor
    public let bias: Tensor?

    init(kind: Kind, dim: Int, epsilon: Float, rng: inout SeededGenerator?) {
        self.kind = kind
        self.epsilon = epsilon
        weight = Initializer.ones.make([dim], rng: &rng)
        bias = kind == .layerNorm ? Initializer.zeros.make([dim], rng: &rng) : nil
    }

    public var ownParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let bias { return layerNorm(x, weight: weight, bias: bias, eps: epsilon) }
        return rmsNorm(x, weight: weight, eps: epsilon)
    }
}

/// A lookup table of `count` vectors of width `dim` (tokens or positions).
public final class Embedding: Module {
    public private(set) var weight: Tensor
    /// The table in its file's quantised format, for a tied output head at inference.
    public internal(set) var quantized: QuantizedMatrix?

    init(count: Int, dim: Int, std: Float, rng: inout SeededGenerator?) {
        weight = Initializer.normal(std: std).make([count, dim], rng: &rng)
    }

    public var ownParameters: [(name: String, tensor: Tensor)] { [("weight", weight)] }

    public func callAsFunction(_ ids: [Int], shape: [Int]) -> Tensor { embedding(weight, ids: ids, shape: shape) }

    /// Replaces the table (vocabulary growth builds a larger one).
    func replaceWeight(_ newWeight: Tensor) { weight = newWeight; quantized = nil }
}
