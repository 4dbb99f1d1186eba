import LifelongEngine

/// What a forward pass takes besides the tokens: conditioning that differs from row to row.
public struct Conditioning: Sendable {
    /// SLM's mixture: one row of `slotCount` weights per sequence for every low-rank mixture
    /// layer (`LowRankMixtureLinear`); empty: the base projections alone.
    public var slotWeights: [Float]

    public init(slotWeights: [Float] = []) { self.slotWeights = slotWeights }

    public static let none = Conditioning()
}

/// What a forward pass returns: the logits and everything the layers computed on the side.
public struct ForwardOutput {
    /// Next-token logits [B, T, vocab].
    public var logits: Tensor
    /// Losses the layers add to the objective, by the path of the layer that made them (each
    /// mixture of experts' load-balancing loss). Only in grad mode.
    public var auxiliaryLosses: [(path: String, loss: Tensor)]
    /// Tokens each expert received, per mixture-of-experts layer, in model order.
    public var routerLoads: [(path: String, load: [Int])]
}

/// One forward pass through the blocks: the batch's index arrays (built once, shared by every
/// layer), the per-row conditioning, and what the layers report back. It lives for one call of
/// `DecoderLM.forward` (or one generation step); no layer keeps any of it.
public final class ForwardPass {
    /// The position of every token, B·T.
    public let positions: [Int]
    /// false for padding, B·T; nil when nothing is padded.
    public let keyMask: [Bool]?
    public let conditioning: Conditioning
    /// The cache of an inference pass that continues earlier tokens.
    let cache: KVCache?
    public private(set) var auxiliaryLosses: [(path: String, loss: Tensor)] = []
    public private(set) var routerLoads: [(path: String, load: [Int])] = []

    /// A pass for calling one layer on its own (tests, benchmarks): tokens at `positions`.
    public init(positions: [Int] = [], keyMask: [Bool]? = nil, conditioning: Conditioning = .none) {
        self.positions = positions; self.keyMask = keyMask; self.conditioning = conditioning; cache = nil
    }

    init(_ batch: TokenBatch, conditioning: Conditioning, cache: KVCache?) {
        positions = batch.resolvedPositions
        keyMask = batch.mask
        self.conditioning = conditioning
        self.cache = cache
    }

    /// A layer reports a loss to add to the objective.
    public func addAuxiliaryLoss(_ loss: Tensor, from path: String) { auxiliaryLosses.append((path, loss)) }

    /// A mixture of experts reports how many tokens each expert took.
    public func addRouterLoad(_ load: [Int], from path: String) { routerLoads.append((path, load)) }
}
