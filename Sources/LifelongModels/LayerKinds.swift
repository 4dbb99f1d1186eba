import Foundation
import LifelongEngine
import LifelongFormats

/// A layer a method installs in place of one of the model's own (SLM's low-rank mixture,
/// Lifelong-MoE's mixture of experts): it can say how to rebuild itself, so that `--resume`,
/// `lifelong sample` and evaluation rebuild the same tree before loading a run's weights.
public protocol ReplacementLayer: Module {
    /// The kind's name in a run's state (`low_rank_mixture`), registered in `LayerKinds`.
    static var kind: String { get }
    /// The layer's own sizes, everything its kind's builder needs besides the layer it replaces.
    var settings: [String: Int] { get }
}

/// A replaced layer as a run's state records it: where it is and what it was replaced with.
public struct LayerRecord: Codable, Equatable, Sendable {
    /// The layer's path in the model (`model.layers.3.self_attn.o_proj`).
    public var path: String
    /// The kind of layer (`low_rank_mixture`).
    public var kind: String
    public var settings: [String: Int]

    public init(path: String, kind: String, settings: [String: Int]) {
        self.path = path; self.kind = kind; self.settings = settings
    }
}

/// The layer kinds a run's state may name: kind → how to build one from its record in place of
/// the layer at its path (its weights are loaded afterwards). Adding a kind is one type plus one
/// `register` call.
public enum LayerKinds {
    public typealias Builder = (_ record: LayerRecord, _ replacing: any Module) throws -> any Module

    private static let lock = NSLock()
    nonisolated(unsafe) private static var builders: [String: Builder] = [
        LowRankMixtureLinear.kind: LowRankMixtureLinear.rebuild,
        MixtureOfExperts.kind: MixtureOfExperts.rebuild,
    ]

    /// Makes `kind` known to `install` (a layer kind defined outside this library).
    public static func register(_ kind: String, builder: @escaping Builder) {
        lock.withLock { builders[kind] = builder }
    }

    static func build(_ record: LayerRecord, replacing module: any Module) throws -> any Module {
        guard let builder = lock.withLock({ builders[record.kind] }) else {
            throw FormatError(file: "state.json", "layer '\(record.path)': unknown kind '\(record.kind)'")
        }
        return try builder(record, module)
    }
}

extension Module {
    /// The replaced layers of the tree, parents before their children, for a run's state.
    public var layerRecords: [LayerRecord] {
        namedModules.compactMap { path, module in
            (module as? any ReplacementLayer).map { LayerRecord(path: path, kind: type(of: $0).kind, settings: $0.settings) }
        }
    }

    /// Rebuilds the replaced layers a run's state lists (before loading the run's weights). A
    /// layer already of the recorded kind and settings is kept.
    public func install(_ records: [LayerRecord]) throws {
        // A path inside a replaced layer (a projection of an expert) exists only once its
        // container is rebuilt: shorter paths first.
        for record in records.sorted(by: { $0.path.split(separator: ".").count < $1.path.split(separator: ".").count }) {
            guard let current = module(at: record.path), !record.path.isEmpty else {
                throw FormatError(file: "state.json", "the run's state replaces layer '\(record.path)', which this model does not have")
            }
            if let replaced = current as? any ReplacementLayer, type(of: replaced).kind == record.kind,
               replaced.settings == record.settings { continue }
            do {
                try replaceModule(at: record.path, with: try LayerKinds.build(record, replacing: current))
            } catch let error as ModuleError {
                throw FormatError(file: "state.json", "layer '\(record.path)': \(error)")
            }
        }
    }
}
