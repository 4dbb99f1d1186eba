import Foundation
import LifelongFormats
import Yams

/// YAML from a user's file, read defensively: Yams builds every alias afresh when it turns a
/// document into values, so nine lines of nested aliases ("billion laughs") would ask for
/// gigabytes and minutes, and a non-scalar mapping key traps inside Yams. The document is first
/// composed into nodes (aliases shared, cheap), walked with a budget of nodes as they would be
/// expanded, and its keys checked; only then converted.
enum YAMLText {
    /// More nodes than any config or sweep needs by orders of magnitude.
    static let maximumNodes = 100_000

    static func load(_ text: String, source: String) throws -> Any? {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { throw FormatError(file: source, "not valid YAML: \(error)") }
        guard let root else { return nil }
        var budget = maximumNodes
        try check(root, path: "", budget: &budget, source: source)
        return Constructor.default.any(from: root)
    }

    private static func check(_ node: Node, path: String, budget: inout Int, source: String) throws {
        budget -= 1
        guard budget >= 0 else {
            throw FormatError(file: source, "the document expands to more than \(maximumNodes) values (nested aliases?)")
        }
        switch node {
        case .scalar, .alias: break
        case let .sequence(sequence):
            for (i, child) in sequence.enumerated() { try check(child, path: "\(path)[\(i)]", budget: &budget, source: source) }
        case let .mapping(mapping):
            for (key, value) in mapping {
                guard let name = key.scalar?.string else {
                    throw FormatError(file: source, "a key\(path.isEmpty ? "" : " under '\(path)'") is not a plain scalar (a list or mapping as a key)")
                }
                try check(value, path: path.isEmpty ? name : "\(path).\(name)", budget: &budget, source: source)
            }
        }
    }
}
