import Foundation
import LifelongFormats

/// An exclusive lock on a run directory (`flock` on `<run>/.lock`, which holds the owner's pid),
/// held while the object lives: two processes never write one run. The kernel releases it when
/// the process dies, so a killed run leaves no stale lock.
package final class RunDirectoryLock {
    private let descriptor: Int32

    public convenience init(runDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        try self.init(file: (runDirectory as NSString).appendingPathComponent(".lock")) { holder in
            FormatError(file: runDirectory, "is in use by another run (process \(holder)); wait for it or stop it first")
        }
    }

    /// Locks `path` (created if missing); when another process holds it, throws `inUse(its pid)`.
    public init(file path: String, inUse: (String) -> Error) throws {
        descriptor = open(path, O_RDWR | O_CREAT, 0o644)
        guard descriptor >= 0 else { throw FormatError.io(file: path, "cannot open: \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? UserFile.text(path))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            throw inUse(holder.isEmpty ? "?" : holder)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
