import LifelongEngine

/// A layer or a model: a node of one tree that owns tensors and child modules under stable names.
///
/// Names are the checkpoint's own (e.g. `transformer.h.0.attn.c_attn.weight` for GPT-2,
/// `model.layers.0.self_attn.q_proj.weight` for Llama), so loading and saving is a 1:1 mapping.
/// A module declares only its own tensors and its direct children; every walk of the tree —
/// named parameters, named modules, replacing a module by path or predicate, the records of
/// replaced layers — is written once, below, for every module (as mlx-swift's `Module`).
public protocol Module: AnyObject {
    /// This module's own tensors (not its children's), in a fixed order.
    var ownParameters: [(name: String, tensor: Tensor)] { get }
    /// The direct children, in a fixed order. A name may contain dots (`transformer.h.0`).
    var children: [(name: String, module: any Module)] { get }
    /// Installs `module` as the child called `name`. Modules whose children can be replaced
    /// implement it; a module that is not of the role the child plays is refused.
    func setChild(_ name: String, to module: any Module) throws
}

extension Module {
    public var ownParameters: [(name: String, tensor: Tensor)] { [] }
    public var children: [(name: String, module: any Module)] { [] }
    public func setChild(_ name: String, to module: any Module) throws {
        throw ModuleError("\(Self.self) has no replaceable child '\(name)'")
    }

    /// Every tensor of the subtree, keyed by its path relative to this module: own tensors first,
    /// then each child's, in order.
    public var namedParameters: [(name: String, tensor: Tensor)] {
        var result = ownParameters
        for (name, child) in children {
            result += child.namedParameters.map { ("\(name).\($0.name)", $0.tensor) }
        }
        return result
    }

    public var parameters: [Tensor] { namedParameters.map(\.tensor) }

    /// Number of scalar parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// The parameters of the subtree in `trainable` (all of them when it is nil) and the others,
    /// each in tree order: a training stage's optimiser groups and what it freezes.
    public func parameters(splitBy trainable: [Tensor]?) -> (trainable: [Tensor], frozen: [Tensor]) {
        guard let trainable else { return (parameters, []) }
        let chosen = Set(trainable.map(ObjectIdentifier.init))
        let all = parameters
        return (all.filter { chosen.contains(ObjectIdentifier($0)) }, all.filter { !chosen.contains(ObjectIdentifier($0)) })
    }

    /// Every module of the subtree with its path, parents before their children (this module: "").
    public var namedModules: [(path: String, module: any Module)] {
        var result: [(path: String, module: any Module)] = [("", self)]
        for (name, child) in children {
            result += child.namedModules.map { ($0.path.isEmpty ? name : "\(name).\($0.path)", $0.module) }
        }
        return result
    }

    /// The modules of the subtree that are of type `T`, with their paths.
    public func modules<T>(of type: T.Type) -> [(path: String, module: T)] {
        namedModules.compactMap { entry in (entry.module as? T).map { (entry.path, $0) } }
    }

    /// The module at `path` ("" is this module), or nil.
    public func module(at path: String) -> (any Module)? {
        namedModules.first { $0.path == path }?.module
    }

    /// Installs `replacement` at `path` (a descendant of this module).
    public func replaceModule(at path: String, with replacement: any Module) throws {
        for (parentPath, parent) in namedModules {
            for (name, _) in parent.children where (parentPath.isEmpty ? name : "\(parentPath).\(name)") == path {
                return try parent.setChild(name, to: replacement)
            }
        }
        throw ModuleError("no module at '\(path)'")
    }

    /// Calls `transform` with every module of the subtree that `predicate` selects and installs
    /// what it returns (when it is another module). Modules installed this way are not visited
    /// again. Returns the paths of the modules replaced.
    @discardableResult
    public func replaceModules(where predicate: (_ path: String, _ module: any Module) -> Bool,
                               with transform: (_ path: String, _ module: any Module) throws -> any Module) throws -> [String] {
        let selected = namedModules.filter { !$0.path.isEmpty && predicate($0.path, $0.module) }
        var replaced: [String] = []
        for (path, module) in selected {
            let replacement = try transform(path, module)
            guard replacement !== module else { continue }
            try replaceModule(at: path, with: replacement)
            replaced.append(path)
        }
        return replaced
    }
}

/// A child the tree cannot install, or a path it does not have.
public struct ModuleError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Installs `module` in `field` when it plays the field's role (`T`); otherwise an error naming both.
func assign<T>(_ module: any Module, to field: inout T, name: String, in owner: Any.Type) throws {
    guard let typed = module as? T else {
        throw ModuleError("\(owner).\(name) must be a \(T.self), not a \(type(of: module))")
    }
    field = typed
}

/// A parameter's value at initialisation.
enum Initializer {
    case zeros, ones, normal(std: Float)

    /// Without a generator (a model about to be loaded from a checkpoint) every parameter starts
    /// at zero: drawing random values that are overwritten at once would waste the load time.
    func make(_ shape: [Int], rng: inout SeededGenerator?) -> Tensor {
        switch (self, rng) {
        case (.ones, _): return Tensor([Float](repeating: 1, count: shape.reduce(1, *)), shape: shape, requiresGrad: true)
        case (.normal(let std), .some): return Tensor(randomNormal: shape, std: std, rng: &rng!, requiresGrad: true)
        default: return Tensor(zeros: shape, requiresGrad: true)
        }
    }
}
