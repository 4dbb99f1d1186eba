import Foundation
import LifelongFormats

/// The sha256 of every file of one checkpoint folder, written last (after the files it lists, before
/// `latest` moves): a folder whose manifest is missing, unreadable or does not match its files is
/// not a complete checkpoint, so one flipped bit, a truncated file, a swapped or deleted one is
/// caught on `--resume`, `sample` and `evaluate` instead of being used.
struct CheckpointManifest: Codable, Equatable {
    static let fileName = "manifest.json"

    /// File name → sha256 (64 lowercase hex digits).
    var files: [String: String]

    /// Hashes every file of `folder` (hidden temporaries aside) and writes the manifest atomically.
    static func write(for folder: String) throws {
        var files: [String: String] = [:]
        for name in try contents(of: folder) where name != fileName {
            files[name] = try FileDigest.sha256(ofFile: (folder as NSString).appendingPathComponent(name))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(CheckpointManifest(files: files)), to: (folder as NSString).appendingPathComponent(fileName))
    }

    /// Nil when the folder has no manifest (a checkpoint written before manifests existed);
    /// otherwise checks that the folder holds exactly the listed files with the listed digests.
    /// The error names the first file that differs.
    @discardableResult
    static func verify(_ folder: String) throws -> CheckpointManifest? {
        let path = (folder as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let manifest = try StrictJSON.decode(CheckpointManifest.self, from: try UserFile.data(path), file: path)
        for (name, digest) in manifest.files.sorted(by: { $0.key < $1.key }) {
            guard !name.contains("/"), !name.hasPrefix(".") else { throw FormatError(file: path, "lists '\(name)', which is not a file name") }
            let file = (folder as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: file) else { throw FormatError(file: file, "missing (listed in \(fileName))") }
            guard try FileDigest.sha256(ofFile: file) == digest else {
                throw FormatError(file: file, "does not match its sha256 in \(fileName): the file was changed or damaged after it was written")
            }
        }
        if let extra = try contents(of: folder).first(where: { $0 != fileName && manifest.files[$0] == nil }) {
            throw FormatError(file: (folder as NSString).appendingPathComponent(extra), "is not listed in \(fileName): it was not written with this checkpoint")
        }
        return manifest
    }

    private static func contents(of folder: String) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted() } catch {
            throw FormatError.io(file: folder, "cannot list the checkpoint folder: \(describeFileError(error))")
        }
    }
}
