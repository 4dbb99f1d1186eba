import Foundation
import LifelongEngine

/// What produced a result: the program's version and source commit, when and where it ran, with
/// how many threads and which BLAS. Written into `results.json`.
public struct Provenance: Codable, Sendable, Equatable {
    public static let version = "0.3.0-dev"

    public var version: String
    /// The git commit of the source tree the binary was built from ("unknown" when it is not a checkout).
    public var commit: String
    public var date: String
    public var host: String
    public var threads: Int
    public var blas: String
    /// The model file the run started from, and its sha256 as `lifelong models pull` recorded it
    /// (nil for a scratch model; the sha256 is nil for a file outside the model cache).
    public var modelFile: String?
    public var modelSHA256: String?

    enum CodingKeys: String, CodingKey {
        case version, commit, date, host, threads, blas
        case modelFile = "model_file", modelSHA256 = "model_sha256"
    }

    public static func current(modelFile: String? = nil, modelSHA256: String? = nil) -> Provenance {
        Provenance(version: version, commit: sourceCommit, date: ISO8601DateFormatter().string(from: Date()),
                   host: ProcessInfo.processInfo.hostName, threads: Parallel.threads, blas: BLAS.name,
                   modelFile: modelFile, modelSHA256: modelSHA256)
    }

    /// Read from the `.git` folder beside this file's source tree (HEAD, then the ref it names,
    /// loose or packed), without running git.
    static let sourceCommit: String = {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { root.deleteLastPathComponent() }  // Run/ LifelongLearning/ Sources/ → the checkout
        let git = root.appendingPathComponent(".git")
        func read(_ path: String) -> String? {
            (try? String(contentsOf: git.appendingPathComponent(path), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let head = read("HEAD") else { return "unknown" }
        guard head.hasPrefix("ref: ") else { return head }
        let ref = String(head.dropFirst(5))
        if let commit = read(ref) { return commit }
        let packed = read("packed-refs")?.split(separator: "\n").first { $0.hasSuffix(" " + ref) }
        return packed.map { String($0.prefix { $0 != " " }) } ?? "unknown"
    }()
}
