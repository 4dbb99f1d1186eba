import Foundation
import LifelongFormats
import Yams

/// A grid of runs: a base run config and axes, each a config key with the values it takes.
///
/// ```yaml
/// name: tiny-grid
/// base: base.yaml                 # a path relative to this file, or an inline mapping
/// axes:
///   method.name: [finetune, lamol]
///   seed: [1, 2, 3]
///   order: reverse                # or permutations, a list of orders, or {random: 4, seed: 1}
/// ```
///
/// Every point is an ordinary run named after its axis values (`finetune_seed-1_order-2`) in
/// `runs/<sweep>/`, so it can be resumed, sampled and reported alone. The `order` axis reorders
/// the base config's `stream` list (order 1 is the base's own order).
public struct Sweep {
    public struct Point: Equatable {
        /// The run's name (its directory under `runs/<sweep>/`).
        public let name: String
        /// `--set` overrides of the base config, `name=` included.
        public let overrides: [String]
    }

    public let name: String
    /// The base config's YAML text and where it came from (for error messages).
    public let base: String, baseSource: String
    /// The base's path when it is a file (the runs name it), nil for an inline mapping.
    public let basePath: String?
    public let points: [Point]

    /// Points beyond this are refused: a grid that large is a typo (e.g. permutations of 9 tasks).
    public static let maximumPoints = 10_000

    public init(yaml text: String, source: String) throws {
        let root: Node?
        _ = try YAMLText.load(text, source: source)  // bounded, with scalar keys
        do { root = try Yams.compose(yaml: text) } catch { throw FormatError(file: source, "not valid YAML: \(error)") }
        guard let map = root?.mapping else { throw FormatError(file: source, "a sweep must be a YAML mapping") }
        for (key, _) in map where !["name", "base", "axes"].contains(key.string ?? "") {
            throw FormatError(file: source, "unknown key '\(key.string ?? "?")' (allowed: name, base, axes)")
        }
        guard let name = map["name"]?.string, !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else {
            throw FormatError(file: source, "'name' must be a plain directory name")
        }
        self.name = name
        switch map["base"] {
        case let node? where node.string != nil:
            let path = ((source as NSString).deletingLastPathComponent as NSString).appendingPathComponent(node.string!)
            guard let text = try? UserFile.text(path) else { throw FormatError(file: source, "'base': cannot read \(path)") }
            (base, baseSource, basePath) = (text, path, path)
        case let node? where node.mapping != nil:
            (base, baseSource, basePath) = (try Yams.serialize(node: node), source + " (base)", nil)
        default:
            throw FormatError(file: source, "'base' must be a config file's path or a mapping")
        }
        let baseConfig = try RunConfig(yaml: base, source: baseSource)
        guard let axes = map["axes"]?.mapping, !axes.isEmpty else { throw FormatError(file: source, "'axes' must be a non-empty mapping") }
        var grid: [[[(label: String, override: String)]]] = []  // axis → value → the overrides it sets
        for (keyNode, valueNode) in axes {
            guard let key = keyNode.string, !key.isEmpty else { throw FormatError(file: source, "an axis key must be a config key") }
            grid.append(key == "order" ? try Self.orders(valueNode, stream: baseConfig.stream, source: source).map { [$0] }
                                       : try Self.values(valueNode, key: key, source: source))
        }
        let count = grid.reduce(1) { $0.multipliedReportingOverflow(by: $1.count).overflow ? Int.max : $0 * $1.count }
        guard count <= Self.maximumPoints else { throw FormatError(file: source, "the grid has \(count) points (at most \(Self.maximumPoints))") }
        points = grid.reduce([[(label: String, override: String)]()]) { partial, axis in
            partial.flatMap { prefix in axis.map { prefix + $0 } }
        }.map { choices in
            let runName = choices.map(\.label).joined(separator: "_")
            return Point(name: runName, overrides: choices.map(\.override) + ["name=\(runName)"])
        }
        try Self.requireDistinctNames(points, source: source)
        for point in points { _ = try RunConfig(yaml: base, overrides: point.overrides, source: "\(source): point \(point.name)") }
    }

    /// Two points with one directory name would share a run (only one would run, and a report
    /// would count it twice): `1e-1` and `1e+1` both become `1e-1` in a name. Names are compared
    /// as a case-insensitive file system (macOS) would.
    private static func requireDistinctNames(_ points: [Point], source: String) throws {
        var seen: [String: Point] = [:]
        for point in points {
            if let other = seen.updateValue(point, forKey: point.name.lowercased()) {
                let differ = zip(other.overrides, point.overrides).filter { $0 != $1 }.map { "\($0) and \($1)" }.joined(separator: "; ")
                throw FormatError(file: source, "two points would share the run name '\(point.name)' (\(differ)); "
                                  + "write the values so that they differ in letters or digits (10 rather than 1e+1)")
            }
        }
    }

    /// An ordinary axis: a list of YAML scalars, or of mappings of scalars that set several keys
    /// of the section together (`method: [{name: finetune}, {name: lifelong_moe, dense: true}]`).
    private static func values(_ node: Node, key: String, source: String) throws -> [[(label: String, override: String)]] {
        guard let list = node.sequence, !list.isEmpty else { throw FormatError(file: source, "axis '\(key)' must be a non-empty list") }
        return try list.map { value in
            if let map = value.mapping {
                return try map.map { subkey, subvalue in
                    guard let name = subkey.string, let text = subvalue.string else {
                        throw FormatError(file: source, "axis '\(key)': a mapping value must map keys to scalars")
                    }
                    return try scalar("\(key).\(name)", text)
                }
            }
            guard let text = value.string else { throw FormatError(file: source, "axis '\(key)': values must be scalars or mappings of scalars") }
            return [try scalar(key, text)]
        }
    }

    /// The method's name labels a point by itself; other keys as key-value.
    private static func scalar(_ key: String, _ text: String) throws -> (label: String, override: String) {
        let short = key.split(separator: ".").last.map(String.init) ?? key
        return (key == "method.name" ? sanitized(text) : "\(sanitized(short))-\(sanitized(text))", "\(key)=\(text)")
    }

    /// The `order` axis: orders of the base stream, labelled order-1 (the base's own), order-2, ….
    private static func orders(_ node: Node, stream: [String], source: String) throws -> [(label: String, override: String)] {
        guard stream.count >= 2 else { throw FormatError(file: source, "axis 'order' needs the base's 'stream' as a list of at least two tasks") }
        var orders: [[String]]
        switch (node.string, node.mapping, node.sequence) {
        case ("permutations"?, _, _):
            guard stream.count <= 7 else { throw FormatError(file: source, "'order: permutations' of \(stream.count) tasks is too many; use {random: k, seed: s}") }
            orders = permutations(stream)
        case ("reverse"?, _, _):
            orders = [stream, stream.reversed()]
        case (_, let map?, _):
            guard let k = map["random"]?.int, (1...1000).contains(k) else { throw FormatError(file: source, "'order: {random: k}' needs k in 1…1000") }
            var shuffler = SeededShuffler(seed: UInt64(map["seed"]?.int ?? 1))
            orders = [stream]
            for _ in 0..<(k * 100) where orders.count < k {  // bounded: there may be fewer than k distinct orders
                let order = shuffler.shuffled(stream)
                if !orders.contains(order) { orders.append(order) }
            }
        case (_, _, let list?):
            orders = try list.map { order in
                let tasks = order.sequence?.compactMap(\.string) ?? []
                guard tasks.sorted() == stream.sorted() else {
                    throw FormatError(file: source, "an order must list the base stream's tasks (\(stream.joined(separator: ", "))) once each")
                }
                return tasks
            }
        default:
            throw FormatError(file: source, "'order' must be permutations, reverse, a list of orders or {random: k, seed: s}")
        }
        return orders.enumerated().map { i, order in
            ("order-\(i + 1)", "stream=[" + order.map { "\"\($0)\"" }.joined(separator: ", ") + "]")
        }
    }

    private static func permutations(_ items: [String]) -> [[String]] {
        guard items.count > 1 else { return [items] }
        return items.indices.flatMap { i -> [[String]] in
            var rest = items
            let first = rest.remove(at: i)
            return permutations(rest).map { [first] + $0 }
        }
    }

    private static func sanitized(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "-" })
    }

    /// The run config of a point.
    public func config(_ point: Point) throws -> RunConfig {
        try RunConfig(yaml: base, overrides: point.overrides, source: baseSource)
    }
}
