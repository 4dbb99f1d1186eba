import Crypto
import Foundation

/// The kernels compiled for one GPU architecture, each once: machine code is kept on disk under
/// the sha256 of its source, its headers, the architecture and the NVRTC version, so a second run
/// (or a second process) loads it instead of compiling again, and any change to one of them
/// compiles afresh.
public struct KernelCache {
    public let directory: String
    public let architecture: String
    let compiler: NVRTC

    /// `$LIFELONG_CACHE/cuda-kernels` (default `~/.cache/lifelong/cuda-kernels`).
    public static var defaultDirectory: String {
        let cache = ProcessInfo.processInfo.environment["LIFELONG_CACHE"] ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/lifelong")
        return (cache as NSString).appendingPathComponent("cuda-kernels")
    }

    public init(compiler: NVRTC, architecture: String, directory: String = KernelCache.defaultDirectory) {
        self.compiler = compiler; self.architecture = architecture; self.directory = directory
    }

    /// The machine code of kernel file `file` (one of `KernelSources.files`), and whether it was
    /// compiled now (false: read from the cache).
    public func cubin(_ file: String) throws -> (code: [UInt8], compiled: Bool) {
        guard let source = KernelSources.files[file] else { throw CUDAError.compile(file: file, log: "no such kernel file") }
        var hash = SHA256()
        for part in [source, architecture, "\(compiler.version.major).\(compiler.version.minor)"] + KernelSources.headers.sorted(by: { $0.key < $1.key }).flatMap({ [$0.key, $0.value] }) {
            hash.update(data: Data(part.utf8)); hash.update(data: Data([0]))
        }
        let key = hash.finalize().map { String(format: "%02x", $0) }.joined()
        let path = (directory as NSString).appendingPathComponent("\(key).cubin")
        if let cached = FileManager.default.contents(atPath: path), cached.starts(with: [0x7F, 0x45, 0x4C, 0x46]) {  // an ELF file
            return (Array(cached), false)
        }
        let (code, _) = try compiler.compile(source, file: file, headers: KernelSources.headers, architecture: architecture)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = path + ".\(getpid()).partial"
        try Data(code).write(to: URL(fileURLWithPath: temporary))
        if rename(temporary, path) != 0 { try? FileManager.default.removeItem(atPath: temporary) }  // another process won: theirs is the same
        return (code, true)
    }
}
