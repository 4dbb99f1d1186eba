import Foundation
import LifelongEngine
import LifelongFormats

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
/// The router's rows are kept in blocks, one per growth (`grow`): block b scores the experts
/// added with it. A block is its own tensor, so freezing the old experts' rows is leaving their
/// block out of the trainable parameters — no gradient, no optimiser state, no weight decay.
///
/// `gating`: `.mixtral` sends every token to its top-k experts. `.gshard` (top-2 only) is GShard's
/// random routing (Lepikhin et al., 2020): while training, a token keeps its second expert only with
/// probability 2·g₂ (g₂ its renormalised gate), otherwise the first expert's share g₁ alone reaches
/// it. The draw is a hash of the token's input and the layer's name, not a generator's state, so a
/// resumed run routes exactly as an uninterrupted one; inference routes to both.
///
/// Each forward pass in grad mode reports the Switch/GShard load-balancing loss to its `ForwardPass`:
///   E · Σ_{i<k} Σ_e f_{i,e} · P_e,  f_{i,e} = share of tokens whose i-th choice is e,
///   P_e = mean router probability of e (softmax over all E logits), as Hugging Face's Mixtral;
/// and every pass reports the router's load (tokens per expert).
public final class MixtureOfExperts: FeedForwardLayer, ReplacementLayer {
    public static let kind = "mixture_of_experts"
    public private(set) var routerBlocks: [Linear]
    public private(set) var experts: [any DenseFeedForward]
    public let topK: Int
    public var capacityFactor: Float?
    public enum Gating: Int, Sendable { case mixtral = 0, gshard = 1 }
    public var gating = Gating.mixtral
    /// Where this layer sits in the model (`model.layers.1.mlp`): it salts GShard's coin and names
    /// what the layer reports to a forward pass.
    let path: String

    /// `experts` copies of `dense` (upcycling: at initialisation the layer computes what `dense`
    /// does, whatever the router says, since the gates of a token sum to 1) and a router drawn from
    /// N(0, routerStd²) (zero without a generator, or with `routerStd` 0).
    public init(upcycling dense: any DenseFeedForward, experts count: Int, topK: Int = 2, capacityFactor: Float? = nil,
                routerStd: Float = 0.02, rng: inout SeededGenerator?, path: String = "mlp") {
        precondition(count >= topK && topK >= 1, "a mixture needs at least top-k = \(topK) experts, got \(count)")
        experts = (0..<count).map { _ in dense.copy() }
        routerBlocks = [Self.routerBlock(rows: count, width: dense.inFeatures, std: routerStd, rng: &rng)]
        self.topK = topK; self.capacityFactor = capacityFactor; self.path = path
    }

    /// `count` freshly initialised experts (a model trained from scratch, the benchmark's Mixtral).
    public init(config: DecoderConfig, experts count: Int, topK: Int = 2, capacityFactor: Float? = nil,
                rng: inout SeededGenerator?, path: String = "mlp") {
        precondition(count >= topK && topK >= 1, "a mixture needs at least top-k = \(topK) experts, got \(count)")
        experts = (0..<count).map { _ in config.family.feedForward(config, rng: &rng) }
        routerBlocks = [Self.routerBlock(rows: count, width: config.hiddenSize, std: 0.02, rng: &rng)]
        self.topK = topK; self.capacityFactor = capacityFactor; self.path = path
    }

    /// A layer as a run's state recorded it, its router blocks sized as recorded; its weights are
    /// copies of the dense layer it replaces and a zero router until the run's weights load.
    static func rebuild(_ record: LayerRecord, replacing module: any Module) throws -> any Module {
        guard let dense = module as? any DenseFeedForward else {
            throw FormatError(file: "state.json", "layer '\(record.path)' is already replaced by another kind")
        }
        let s = record.settings
        let blocks = (0..<(s["router_blocks"] ?? 0)).map { s["router_block.\($0)"] ?? 0 }
        guard let topK = s["top_k"], (1...64).contains(topK), (1...64).contains(blocks.count),
              blocks.allSatisfy({ (1...1024).contains($0) }), blocks.reduce(0, +) >= topK else {
            throw FormatError(file: "state.json", "layer '\(record.path)': top_k in 1…64 and 1…64 router blocks of 1…1024 experts (at least top_k), got \(s)")
        }
        let capacity = try s["capacity_factor_permille"].map { permille -> Float in
            guard (1...1_000_000).contains(permille) else { throw FormatError(file: "state.json", "layer '\(record.path)': capacity_factor_permille \(permille) is not in 1…1000000") }
            return Float(permille) / 1000
        }
        guard let gating = Gating(rawValue: s["gating"] ?? 0), gating == .mixtral || topK == 2 else {
            throw FormatError(file: "state.json", "layer '\(record.path)': gating \(s["gating"]!) is not 0 (mixtral) or 1 (gshard, top-2)")
        }
        var unset: SeededGenerator? = nil
        let layer = MixtureOfExperts(upcycling: dense, experts: blocks[0], topK: topK, capacityFactor: capacity, routerStd: 0,
                                     rng: &unset, path: record.path)
        layer.gating = gating
        for size in blocks.dropFirst() { layer.grow(size, copying: dense, rng: &unset) }
        return layer
    }

    private static func routerBlock(rows: Int, width: Int, std: Float, rng: inout SeededGenerator?) -> Linear {
        Linear(inFeatures: width, outFeatures: rows, bias: false, layout: .outIn, std: std, rng: &rng)
    }

    /// Adds `count` experts, copies of `source`, and a router block for them (rows drawn as at
    /// creation). The existing experts and router rows are untouched.
    public func grow(_ count: Int, copying source: any DenseFeedForward, routerStd: Float = 0.02, rng: inout SeededGenerator?) {
        precondition(count >= 1, "grow: at least one expert")
        experts += (0..<count).map { _ in source.copy() }
        routerBlocks.append(Self.routerBlock(rows: count, width: source.inFeatures, std: routerStd, rng: &rng))
    }

    /// The experts and the router block added by growth `block` (0: the layer's first experts).
    public func parameters(ofBlock block: Int) -> [Tensor] {
        let start = routerBlocks[..<block].reduce(0) { $0 + $1.outFeatures }
        return routerBlocks[block].parameters + experts[start..<(start + routerBlocks[block].outFeatures)].flatMap(\.parameters)
    }

    public var children: [(name: String, module: any Module)] {
        routerBlocks.enumerated().map { ("router.\($0.offset)", $0.element) }
            + experts.enumerated().map { ("experts.\($0.offset)", $0.element) }
    }

    public var settings: [String: Int] {
        var settings = ["top_k": topK, "router_blocks": routerBlocks.count]
        if gating != .mixtral { settings["gating"] = gating.rawValue }
        for (b, block) in routerBlocks.enumerated() { settings["router_block.\(b)"] = block.outFeatures }
        if let capacityFactor { settings["capacity_factor_permille"] = Int((capacityFactor * 1000).rounded()) }
        return settings
    }

    /// Router logits of tokens [N, d]: every block's rows, side by side.
    func routerLogits(_ x: Tensor) -> Tensor {
        routerBlocks.count == 1 ? routerBlocks[0](x) : concatenateLastDimension(routerBlocks.map { $0(x) })
    }

    public func callAsFunction(_ x: Tensor, _ pass: ForwardPass) -> Tensor {
        let shape = x.shape, tokens = x.rowCount, count = experts.count
        let flat = x.reshaped([tokens, x.lastDim])
        let logits = routerLogits(flat)
        let (gates, chosen) = topKGates(logits, k: topK)
        let capacity = capacityFactor.map { Int((Double($0) * Double(tokens * topK) / Double(count)).rounded(.up)) } ?? Int.max
        var rows = [[Int]](repeating: [], count: count), gateIndices = [[Int]](repeating: [], count: count)
        let randomRouting = gating == .gshard && GradMode.isEnabled
        for t in 0..<tokens {
            for i in 0..<topK {
                let e = chosen[t * topK + i]
                guard rows[e].count < capacity else { continue }  // overflow: the residual alone
                if randomRouting && i == 1 && Self.draw(flat, row: t, salt: path) >= 2 * gates.data[t * topK + 1] { continue }
                rows[e].append(t); gateIndices[e].append(t * topK + i)
            }
        }
        pass.addRouterLoad(rows.map(\.count), from: path)
        let used = (0..<count).filter { !rows[$0].isEmpty }
        let outputs = used.map { experts[$0](gatherRows(flat, rows: rows[$0]), pass) }
        let y = combineExperts(outputs, rows: used.map { rows[$0] }, gates: gates, gateIndices: used.map { gateIndices[$0] }, count: tokens)
        if GradMode.isEnabled { pass.addAuxiliaryLoss(Self.loadBalancingLoss(logits: logits, chosen: chosen, topK: topK), from: path) }
        return y.reshaped(shape)
    }

    /// A number in [0, 1) from the bits of row `row` of `x` and `salt` (FNV-1a): GShard's coin.
    public static func draw(_ x: Tensor, row: Int, salt: String) -> Float {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt64) { hash = (hash ^ byte) &* 0x100_0000_01b3 }
        for byte in salt.utf8 { mix(UInt64(byte)) }
        let d = x.lastDim, p = x.data.baseAddress! + row * d
        for j in 0..<d { let bits = p[j].bitPattern; for k in 0..<4 { mix(UInt64((bits >> (8 * k)) & 0xff)) } }
        return Float(hash >> 40) / Float(1 << 24)
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

extension DecoderLM {
    /// Replaces the feed-forward layer of every `every`-th block (blocks every−1, 2·every−1, …:
    /// every other one for `every` 2, the GLaM layout) by a mixture of `experts` copies of it
    /// (upcycling). Blocks that already hold a mixture keep it. Returns the mixtures, in order.
    @discardableResult
    public func installMixturesOfExperts(every: Int, experts: Int, topK: Int, capacityFactor: Float?,
                                         rng: inout SeededGenerator?) -> [MixtureOfExperts] {
        precondition(every >= 1, "installMixturesOfExperts: every must be ≥ 1")
        for (index, block) in blocks.enumerated() where index % every == every - 1 {
            guard let dense = block.mlp as? any DenseFeedForward else { continue }
            block.mlp = MixtureOfExperts(upcycling: dense, experts: experts, topK: topK, capacityFactor: capacityFactor,
                                         rng: &rng, path: feedForwardPath(ofBlock: index))
        }
        return mixtureOfExpertsLayers
    }

    /// The mixture-of-experts layers, in order.
    public var mixtureOfExpertsLayers: [MixtureOfExperts] { blocks.compactMap { $0.mlp as? MixtureOfExperts } }
}
