import LifelongEngine
import LifelongFormats

/// A frozen projection plus a bank of low-rank increments ("slots"), each sequence of a batch
/// applying its own weighted mixture of them (SLM's JARe):
///
///   y = x·W (+ b) + Σ_j w[seq, j] · (x·A_jᵀ)·B_j        A_j ∈ R^{r×in}, B_j ∈ R^{r×out}
///
/// The mixture weights are set per batch with `DecoderLM.setSlotWeights` (one row of `slotCount`
/// weights per sequence; empty = no increment). No in×out increment is ever built.
public final class LowRankMixtureLinear: LinearLayer {
    static let kind = "low_rank_mixture"
    public let base: Linear
    public let rank: Int
    public private(set) var a: [Tensor] = []
    public private(set) var b: [Tensor] = []
    /// [sequences × slotCount] for the next forward passes; empty: the base projection alone.
    var weights: [Float] = []
    /// Where this layer sits in the model, for its `record`.
    let path: String

    public init(base: Linear, rank: Int, path: String) {
        precondition(rank > 0, "a low-rank increment needs rank ≥ 1")
        self.base = base; self.rank = rank; self.path = path
    }

    /// A layer as a run's state recorded it; its slots are zero until the run's weights load.
    convenience init(record: LayerRecord, base: Linear) throws {
        guard let rank = record.settings["rank"], (1...4096).contains(rank),
              let slots = record.settings["slots"], (0...100_000).contains(slots) else {
            throw FormatError(file: "state.json", "layer '\(record.path)': rank and slots must be in 1…4096 and 0…100000, got \(record.settings)")
        }
        self.init(base: base, rank: rank, path: record.path)
        var unset: SeededGenerator? = nil
        addSlots(slots, rng: &unset)
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

    public var namedParameters: [(name: String, tensor: Tensor)] {
        base.namedParameters + (0..<slotCount).flatMap { j in [("slots.\(j).a", a[j]), ("slots.\(j).b", b[j])] }
    }

    public var record: LayerRecord? {
        LayerRecord(path: path, kind: Self.kind, settings: ["rank": rank, "slots": slotCount])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = base(x)
        guard !weights.isEmpty else { return y }
        precondition(weights.count == x.shape[0] * slotCount,
                     "\(path): \(weights.count) slot weights for \(x.shape[0]) sequences × \(slotCount) slots")
        return add(y, lowRankMixture(x, a: a, b: b, weights: weights))
    }
}

extension DecoderLM {
    /// The low-rank mixture layers, in order.
    public var lowRankMixtureLayers: [LowRankMixtureLinear] {
        namedLinearLayers.compactMap { $0.layer as? LowRankMixtureLinear }
    }

    /// Wraps the projections whose name ends with one of `targets` (`o_proj` for Llama's
    /// attention output, `attn.c_proj` for GPT-2's) in low-rank mixture layers with no slots yet;
    /// already wrapped ones are kept. Returns the names of the wrapped layers.
    @discardableResult
    public func installLowRankMixtures(targets: Set<String>, rank: Int) -> [String] {
        var wrapped: [String] = []
        replaceLinearLayers { name, layer in
            guard targets.contains(where: { name.hasSuffix(".\($0)") }) else { return layer }
            wrapped.append(name)
            return layer as? LowRankMixtureLinear ?? LowRankMixtureLinear(base: layer.base, rank: rank, path: name)
        }
        return wrapped
    }

    /// The mixture of every low-rank mixture layer for the next forward passes: `weights` has
    /// one row of `slotCount` weights per sequence; empty switches the increments off.
    public func setSlotWeights(_ weights: [Float]) {
        for layer in lowRankMixtureLayers { layer.weights = weights }
    }
}
