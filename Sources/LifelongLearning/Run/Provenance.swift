import Foundation
import LifelongEngine

/// What produced a result: the program's version and source commit, when and where it ran, with
/// how many threads and which BLAS. Written into `results.json`.
public struct Provenance: Codable, Sendable, Equatable {
    public static let version = "0.3.0-dev"

    public var version: String
    /// The git commit of the source tree the binary was built from ("unknown" when it was not a
    /// checkout; `-dirty` appended when it had uncommitted changes).
    public var commit: String
    public var date: String
    public var host: String
    public var threads: Int
    public var blas: String
    /// The model file the run started from and its sha256 (nil for a scratch model): the pinned
    /// sha256 of a cached model, whose files were checked when it loaded, or computed.
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

    /// Written at build time by the SourceCommit plugin (Plugins/SourceCommit): the commit the
    /// binary was built from, `-dirty` when tracked files had uncommitted changes.
    static let sourceCommit = buildSourceCommit
}
