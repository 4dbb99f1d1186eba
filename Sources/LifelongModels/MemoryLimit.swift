import Foundation
import LifelongFormats

/// How much memory this process may use, so that a size from a config or a file is checked
/// against it before the allocation that would abort with "failed to allocate".
///
/// The limit is the smallest of the machine's physical memory and the cgroup limit (a container's,
/// or a Slurm job's `--mem`), read once.
public enum MemoryLimit {
    public static let bytes: Int = {
        var limit = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        for file in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            guard let text = try? UserFile.text(file), let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), value > 0 else { continue }
            limit = min(limit, value)
        }
        return limit
    }()

    /// Throws, naming `file` (the config or key the size came from), when `estimate` bytes are
    /// more than the limit.
    public static func require(_ estimate: Int, for what: String, file: String) throws {
        guard estimate > bytes else { return }
        throw FormatError(file: file, "\(what) needs about \(gigabytes(estimate)) of memory; this machine allows \(gigabytes(bytes))")
    }

    public static func gigabytes(_ bytes: Int) -> String { String(format: "%.1f GB", Double(bytes) / 1e9) }
}

extension DecoderConfig {
    /// Parameters of a model of this shape, counted by its family in Double (no overflow for any
    /// size a config may give).
    public var parameterCount: Int { Int(min(9e18, family.parameterCount(self))) }

    /// Training holds four fp32 copies of every parameter (weights, gradients, AdamW's two moments).
    public var trainingBytes: Int { Int(min(9e18, 16 * Double(parameterCount))) }
}
