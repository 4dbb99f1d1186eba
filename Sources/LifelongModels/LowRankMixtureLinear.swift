import LifelongEngine
import LifelongFormats

/// A frozen projection plus a bank of low-rank increments ("slots"), each sequence of a batch
/// applying its own weighted mixture of them (SLM's JARe):
///
///   y = x·W (+ b) + Σ_j w[seq, j] · (x·A_jᵀ)·B_j        A_j ∈ R^{r×in}, B_j ∈ R^{r×out}
///
/// The mixture weights come with each forward pass (`Conditioning.slotWeights`: one row of
/// `slotCount` weights per sequence; empty = no increment). No in×out increment is ever built.
public final class LowRankMixtureLinear: LinearLayer, ReplacementLayer {
    public static let kind = "low_rank_mixture"
    public let base: Linear
    public let rank: Int
    public private(set) var a: [Tensor] = []
    public private(set) var b: [Tensor] = []

    public init(base: Linear, rank: Int) {
        precondition(rank > 0, "a low-rank increment needs rank ≥ 1")
        self.base = base; self.rank = rank
    }

    /// A layer as a run's state recorded it, around the projection at its path; its slots are
    /// zero until the run's weights load.
    static func rebuild(_ record: LayerRecord, replacing module: any Module) throws -> any Module {
        guard let projection = module as? any LinearLayer else {
            throw FormatError(file: "state.json", "layer '\(record.path)' is not a projection")
        }
        guard let rank = record.settings["rank"], (1...4096).contains(rank),
              let slots = record.settings["slots"], (0...100_000).contains(slots) else {
            throw FormatError(file: "state.json", "layer '\(record.path)': rank and slots must be in 1…4096 and 0…100000, got \(record.settings)")
        }
        let layer = LowRankMixtureLinear(base: projection.base, rank: rank)
        var unset: SeededGenerator? = nil
        layer.addSlots(slots, rng: &unset)
        return layer
    }

    public var inFeatures: Int { base.inFeatures }
    public var outFeatures: Int { base.outFeatures }
    public var slotCount: Int { a.count }

    /// Adds `count` slots with A = 0 and B ~ N(0, 1), as the official SLM code: each increment
    /// starts at zero and A receives the first gradient. `rng: nil` leaves B at zero (to be loaded).
    public func addSlots(_ count: Int, rng: inout SeededGenerator?) {
        for _ in 0..<count {
            a.append(Initializer.zeros.make([rank, inFeatures], rng: &rng))
            b.append(Initializer.normal(std: 1).make([rank, outFeatures], rng: &rng))
        }
    }

    /// The parameters of slots `range`.
    public func slotParameters(_ range: Range<Int>) -> [Tensor] { range.flatMap { [a[$0], b[$0]] } }

    /// The base projection's tensors keep their names (`o_proj.weight`), the slots are `o_proj.slots.j.a|b`.
    public var ownParameters: [(name: String, tensor: Tensor)] {
        base.ownParameters + (0..<slotCount).flatMap { j in [("slots.\(j).a", a[j]), ("slots.\(j).b", b[j])] }
    }

    public var settings: [String: Int] { ["rank": rank, "slots": slotCount] }

    public func callAsFunction(_ x: Tensor, _ pass: ForwardPass) -> Tensor {
        let y = base(x), weights = pass.conditioning.slotWeights
        guard !weights.isEmpty else { return y }
        precondition(weights.count == x.shape[0] * slotCount,
                     "\(weights.count) slot weights for \(x.shape[0]) sequences × \(slotCount) slots")
        return add(y, lowRankMixture(x, a: a, b: b, weights: weights))
    }
}

extension DecoderLM {
    /// The low-rank mixture layers, in order.
    public var lowRankMixtureLayers: [LowRankMixtureLinear] { modules(of: LowRankMixtureLinear.self).map(\.module) }

    /// Wraps the projections whose path ends with one of `targets` (`o_proj` for Llama's
    /// attention output, `attn.c_proj` for GPT-2's) in low-rank mixture layers with no slots yet;
    /// already wrapped ones are kept. Returns the paths of the wrapped layers.
    @discardableResult
    public func installLowRankMixtures(targets: Set<String>, rank: Int) throws -> [String] {
        let selected = modules(of: (any LinearLayer).self).filter { path, _ in targets.contains { path.hasSuffix(".\($0)") } }
        for (path, layer) in selected where !(layer is LowRankMixtureLinear) {
            try replaceModule(at: path, with: LowRankMixtureLinear(base: layer.base, rank: rank))
        }
        return selected.map(\.path)
    }
}
