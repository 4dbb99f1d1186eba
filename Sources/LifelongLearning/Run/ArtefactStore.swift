import Foundation
import LifelongFormats

/// A method's files in the run directory, in one folder of its own (LAMOL's `samples/`, L2KD's
/// `teachers/`, Lifelong-MoE's `lifelong_moe/`): the one place that makes their paths (plain names
/// only, so a task called `../x` cannot write outside the folder), writes them atomically and
/// removes them. A method names its folders in `LifelongMethod.artefactFolders`; a fresh run
/// (`--overwrite`) clears every method's.
public struct ArtefactStore {
    /// `<run>/<folder>`.
    public let folder: String

    /// The runner's own folder: `predictions/<task>.jsonl` holds every prediction of the latest
    /// evaluation (after the stream: the final predictions, which `lifelong export` carries).
    public static let predictionsFolder = "predictions"

    public init(runDirectory: String, folder name: String) {
        folder = (runDirectory as NSString).appendingPathComponent(name)
    }

    /// The path of `components` inside the folder; each must be a plain name.
    public func path(_ components: String...) throws -> String { try path(components) }

    private func path(_ components: [String]) throws -> String {
        for name in components where name.isEmpty || name == "." || name == ".." || name.contains("/") || name.contains("\0") {
            throw FormatError(file: folder, "'\(name)' is not a plain file name")
        }
        return components.reduce(folder) { ($0 as NSString).appendingPathComponent($1) }
    }

    public func contains(_ components: String...) -> Bool {
        (try? path(components)).map { FileManager.default.fileExists(atPath: $0) } ?? false
    }

    /// Writes `data` atomically (a kill leaves the old file or the new one), creating folders.
    public func write(_ data: Data, to components: String...) throws {
        try writeAtomically(data, to: try fileToWrite(components))
    }

    /// The path of a file that a writer of its own (safetensors, itself atomic) is about to write,
    /// its folders created.
    public func fileToWrite(_ components: String...) throws -> String { try fileToWrite(components) }

    private func fileToWrite(_ components: [String]) throws -> String {
        let file = try path(components)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return file
    }

    /// Fills a new folder with `fill` (given its path), then swaps it in for `components`: a kill
    /// at any moment leaves either the previous folder or the new one.
    public func writeFolder(_ components: String..., fill: (String) throws -> Void) throws {
        let fm = FileManager.default, target = try path(components)
        let fresh = target + ".new", old = target + ".old"
        try? fm.removeItem(atPath: fresh)
        try fm.createDirectory(atPath: fresh, withIntermediateDirectories: true)
        try fill(fresh)
        try? fm.removeItem(atPath: old)
        if fm.fileExists(atPath: target) { try fm.moveItem(atPath: target, toPath: old) }
        try fm.moveItem(atPath: fresh, toPath: target)
        try? fm.removeItem(atPath: old)
    }

    /// Removes a file or folder of the store (nothing when it is absent).
    public func remove(_ components: String...) throws {
        let target = try path(components)
        if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
    }

    /// Removes the whole folder.
    public func removeAll() { try? FileManager.default.removeItem(atPath: folder) }
}

extension StageContext {
    /// The method's store `folder` in the run directory (nil when the run writes no directory).
    public func artefacts(_ folder: String) -> ArtefactStore? {
        runDirectory.map { ArtefactStore(runDirectory: $0, folder: folder) }
    }
}
