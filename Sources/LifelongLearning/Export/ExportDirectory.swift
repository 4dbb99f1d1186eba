import Foundation
import LifelongFormats

/// Where an export goes: a new directory, filled in a hidden sibling and renamed into place, so
/// that it appears complete or not at all. It never replaces what is not an export: an existing
/// directory is replaced only with `overwrite` and only when it holds `lifelong_export.json`, and
/// a directory that is (or holds, or lies inside) the run directory is refused.
struct ExportDirectory {
    static let marker = "lifelong_export.json"
    let path: String
    let runDirectory: String

    func fill(overwrite: Bool, _ write: (String) throws -> Void) throws {
        let fm = FileManager.default
        let target = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        let run = URL(fileURLWithPath: runDirectory).standardizedFileURL.resolvingSymlinksInPath().path
        guard !path.isEmpty, target != "/" else { throw RequestError("--output must name a directory to create") }
        if target == run || target.hasPrefix(run + "/") || run.hasPrefix(target + "/") {
            throw RequestError("--output \(path) is inside the run directory or holds it; export somewhere else, so that nothing of the run can be replaced")
        }
        var isDirectory: ObjCBool = false
        let exists = fm.fileExists(atPath: target, isDirectory: &isDirectory)
        if exists {
            guard overwrite else { throw RequestError("--output \(path) already exists; choose another directory or add --overwrite") }
            guard isDirectory.boolValue, fm.fileExists(atPath: (target as NSString).appendingPathComponent(Self.marker)) else {
                throw RequestError("--output \(path) exists and is not an earlier export (it has no \(Self.marker)); --overwrite replaces exports only")
            }
        }
        let parent = (target as NSString).deletingLastPathComponent, name = (target as NSString).lastPathComponent
        do { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
            throw FormatError.io(file: parent, "cannot create: \(describeFileError(error))")
        }
        let staging = (parent as NSString).appendingPathComponent(".\(name).partial-\(getpid())")
        let previous = (parent as NSString).appendingPathComponent(".\(name).old-\(getpid())")
        try? fm.removeItem(atPath: staging)
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: false)
        do {
            try write(staging)
            if exists { try fm.moveItem(atPath: target, toPath: previous) }
            try fm.moveItem(atPath: staging, toPath: target)
            try? fm.removeItem(atPath: previous)
        } catch {
            try? fm.removeItem(atPath: staging)
            if exists && !fm.fileExists(atPath: target) { try? fm.moveItem(atPath: previous, toPath: target) }
            throw error
        }
    }

    /// Writes `object` as indented JSON with sorted keys, atomically: every JSON file of an export.
    static func writeJSON(_ object: Any, to path: String) throws {
        try writeAtomically(try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]),
                            to: path)
    }

    /// `name` if it can be one path component inside an export (a task name from a config or a
    /// data file may hold anything), else an error naming it.
    static func plainName(_ name: String, what: String) throws -> String {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\\"), !name.contains("\0"),
              !name.hasPrefix(".") else {
            throw RequestError("\(what) '\(name.prefix(80))' cannot be a file name in the export (path separators or a leading dot)")
        }
        return name
    }
}
