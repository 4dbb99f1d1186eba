import Foundation
import LifelongEngine

/// A mixture of experts in place of a block's feed-forward layer (Lifelong-MoE, Mixtral):
///
///   logits = x · W_routerᵀ  [N, E];  each token takes its top-k experts, gates = softmax over the
///   chosen logits;  y[t] = Σ_{e chosen by t} gate · expert_e(x[t])
///
/// Each expert is the architecture's own feed-forward layer. Tokens are grouped by expert — gather,
/// one matrix product per expert, weighted scatter-add — so there is no loop over tokens in the
/// experts' work. With a capacity factor c an expert takes at most ⌈c·N·k / E⌉ tokens (in token
/// order); a token an expert turns away gets nothing from it (its residual carries it).
///
/// The Switch/GShard load-balancing loss of the last forward pass is kept in `auxiliaryLoss`:
///   E · Σ_{i<k} Σ_e f_{i,e} · P_e,  f_{i,e} = share of tokens whose i-th choice is e,
///   P_e = mean router probability of e (softmax over all E logits), as Hugging Face's Mixtral.
public final class MixtureOfExperts: FeedForwardLayer {
    public let router: Linear
    public private(set) var experts: [FeedForward]
    public let topK: Int
    public var capacityFactor: Float?
    /// Set by every forward pass in grad mode; nil in inference mode.
    public private(set) var auxiliaryLoss: Tensor?
    /// Tokens each expert received in the last forward pass (the router's load).
    public private(set) var load: [Int] = []

    /// `experts` copies of `dense` (upcycling: at initialisation the layer computes what `dense`
    /// does, whatever the router says, since the gates of a token sum to 1) and a router at zero.
    public init(upcycling dense: FeedForward, experts count: Int, topK: Int = 2, capacityFactor: Float? = nil) {
        precondition(count >= topK && topK >= 1, "a mixture needs at least top-k = \(topK) experts, got \(count)")
        experts = (0..<count).map { _ in FeedForward(copying: dense) }
        router = Linear(weight: Tensor(zeros: [count, dense.up.base.inFeatures], requiresGrad: true), bias: nil, layout: .outIn)
        self.topK = topK; self.capacityFactor = capacityFactor
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        scoped("router", router) + experts.enumerated().flatMap { scoped("experts.\($0.offset)", $0.element) }
    }

    public func replaceLinearLayers(_ transform: (String, any LinearLayer) -> any LinearLayer) {
        for (i, expert) in experts.enumerated() { expert.replaceLinearLayers { transform("experts.\(i).\($0)", $1) } }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let shape = x.shape, width = x.lastDim, tokens = x.rowCount, count = experts.count
        let flat = x.reshaped([tokens, width])
        let logits = router(flat)
        let (gates, chosen) = topKGates(logits, k: topK)
        let capacity = capacityFactor.map { Int((Double($0) * Double(tokens * topK) / Double(count)).rounded(.up)) } ?? Int.max
        var rows = [[Int]](repeating: [], count: count), gateIndices = [[Int]](repeating: [], count: count)
        for t in 0..<tokens {
            for i in 0..<topK {
                let e = chosen[t * topK + i]
                guard rows[e].count < capacity else { continue }  // overflow: the residual alone
                rows[e].append(t); gateIndices[e].append(t * topK + i)
            }
        }
        load = rows.map(\.count)
        let used = (0..<count).filter { !rows[$0].isEmpty }
        let outputs = used.map { experts[$0](gatherRows(flat, rows: rows[$0])) }
        let y = combineExperts(outputs, rows: used.map { rows[$0] }, gates: gates, gateIndices: used.map { gateIndices[$0] }, count: tokens)
        auxiliaryLoss = GradMode.isEnabled ? Self.loadBalancingLoss(logits: logits, chosen: chosen, topK: topK) : nil
        return y.reshaped(shape)
    }

    /// E · Σ_{i,e} f_{i,e} · P_e; the gradient reaches the router through P (f counts choices).
    public static func loadBalancingLoss(logits: Tensor, chosen: [Int], topK: Int) -> Tensor {
        let count = logits.lastDim, tokens = logits.rowCount
        var share = [Float](repeating: 0, count: count)  // Σ_i f_{i,e}
        for e in chosen { share[e] += 1 / Float(tokens) }
        // Σ_e share_e · P_e = Σ_t Σ_e (share_e / tokens) · p_{t,e}
        let weights = (0..<tokens).flatMap { _ in share.map { Float(count) * $0 / Float(tokens) } }
        return sum(mul(softmax(logits), Tensor(weights, shape: [tokens, count])))
    }
}
