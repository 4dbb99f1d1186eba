import LifelongEngine
import LifelongFormats

/// What a decoder's projections are: a plain `Linear`, or a layer a method installs in its place
/// (SLM's low-rank mixture around the same weight). A model's projections are found and replaced
/// by name with `DecoderLM.replaceLinearLayers`, as mlx-swift's `update(modules:)` installs LoRA.
public protocol LinearLayer: Module {
    func callAsFunction(_ x: Tensor) -> Tensor
    /// The pretrained projection underneath (itself, for a plain `Linear`): quantised inference
    /// and weight loading act on it.
    var base: Linear { get }
    /// How to rebuild this layer around its base when a run is resumed (nil: a plain `Linear`).
    var record: LayerRecord? { get }
}

extension Linear: LinearLayer {
    public var base: Linear { self }
    public var record: LayerRecord? { nil }
}

/// A replaced layer as a run's state records it: where it is and what it was replaced with, so
/// that `--resume`, `lifelong sample` and evaluation rebuild the same model before loading its
/// weights. `settings` are the layer kind's own sizes.
public struct LayerRecord: Codable, Equatable, Sendable {
    /// The layer's name in the model (`model.layers.3.self_attn.o_proj`).
    public var path: String
    /// The kind of layer (`low_rank_mixture`).
    public var kind: String
    public var settings: [String: Int]

    public init(path: String, kind: String, settings: [String: Int]) {
        self.path = path; self.kind = kind; self.settings = settings
    }
}

extension DecoderLM {
    /// Every replaceable projection with its name (as in the checkpoint, without `.weight`).
    public var namedLinearLayers: [(name: String, layer: any LinearLayer)] {
        var result: [(name: String, layer: any LinearLayer)] = []
        replaceLinearLayers { name, layer in result.append((name, layer)); return layer }
        return result
    }

    /// Calls `transform` with every projection of every block and installs what it returns.
    public func replaceLinearLayers(_ transform: (_ name: String, _ layer: any LinearLayer) -> any LinearLayer) {
        for (i, block) in blocks.enumerated() {
            let prefix = config.architecture == .gpt2 ? "transformer.h.\(i)" : "model.layers.\(i)"
            block.replaceLinearLayers { transform("\(prefix).\($0)", $1) }
        }
    }

    /// The replaced layers, for a run's state: feed-forward layers first (a projection inside
    /// one exists only once it is rebuilt).
    public var layerRecords: [LayerRecord] {
        namedFeedForwardLayers.compactMap(\.layer.record) + namedLinearLayers.compactMap(\.layer.record)
    }

    /// Rebuilds the replaced layers a run's state lists (before loading the run's weights).
    public func install(_ records: [LayerRecord]) throws {
        let byPath = Dictionary(records.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        var installed = Set<String>()
        var failure: Error?
        replaceFeedForwardLayers { name, layer in
            guard let record = byPath[name], failure == nil else { return layer }
            installed.insert(name)
            guard layer.record != record else { return layer }
            guard let dense = layer as? FeedForward else {
                failure = FormatError(file: "state.json", "layer '\(name)' is already replaced by another kind"); return layer
            }
            do { return try LayerKinds.make(record, around: dense) } catch { failure = error; return layer }
        }
        replaceLinearLayers { name, layer in
            guard let record = byPath[name], failure == nil else { return layer }
            installed.insert(name)
            do { return try LayerKinds.make(record, around: layer.base) } catch { failure = error; return layer }
        }
        if let failure { throw failure }
        if let missing = records.first(where: { !installed.contains($0.path) }) {
            throw FormatError(file: "state.json", "the run's state replaces layer '\(missing.path)', which this model does not have")
        }
    }
}

/// The layer kinds a run's state may name.
enum LayerKinds {
    static func make(_ record: LayerRecord, around base: Linear) throws -> any LinearLayer {
        switch record.kind {
        case LowRankMixtureLinear.kind: return try LowRankMixtureLinear(record: record, base: base)
        default: throw FormatError(file: "state.json", "layer '\(record.path)': unknown kind '\(record.kind)'")
        }
    }

    static func make(_ record: LayerRecord, around dense: FeedForward) throws -> any FeedForwardLayer {
        switch record.kind {
        case MixtureOfExperts.kind: return try MixtureOfExperts(record: record, dense: dense)
        default: throw FormatError(file: "state.json", "layer '\(record.path)': unknown kind '\(record.kind)'")
        }
    }
}

extension DecoderLM {
    /// A copy with its own weights and the same replaced layers (Lifelong-MoE's frozen snapshot of
    /// the model as it was before a stage). The copy's parameters do not train.
    public func copy() throws -> DecoderLM {
        let copy = DecoderLM(config: config, seed: nil)
        try copy.install(layerRecords)
        let source = namedParameters
        let target = copy.namedParameters
        precondition(source.map(\.name) == target.map(\.name), "DecoderLM.copy: the copy has other parameters")
        for ((_, from), (_, to)) in zip(source, target) {
            _ = to.data.update(from: from.data)
            to.requiresGrad = false
        }
        return copy
    }
}
