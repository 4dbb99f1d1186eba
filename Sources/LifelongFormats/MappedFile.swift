import Foundation

/// A read-only memory map of a whole file: tensors are read straight from the page cache, and a
/// multi-hundred-megabyte checkpoint costs no copy until its tensors are converted.
public final class MappedFile {
    public let path: String
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws {
        self.path = path
        let fd = try UserFile.openRegular(path)
        defer { close(fd) }
        var info = stat()
        _ = fstat(fd, &info)
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw FormatError(file: path, "cannot map: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

/// A problem with a file from outside: says which file and what is wrong with it. Most are about
/// what a file holds; `inputOutput` ones are about reading or writing it at all (missing, no
/// permission, disk full), which the command line reports with another exit code.
public struct FormatError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let message: String
    public var inputOutput = false
    public init(file: String, _ message: String) { self.file = file; self.message = message }
    public var description: String { "\(file): \(message)" }

    /// The same error with `text` added to its message (a hint of what to do about it).
    public func adding(_ text: String) -> FormatError {
        var error = FormatError(file: file, message + text)
        error.inputOutput = inputOutput
        return error
    }

    /// A file that cannot be read or written.
    public static func io(file: String, _ message: String) -> FormatError {
        var error = FormatError(file: file, message)
        error.inputOutput = true
        return error
    }
}

/// Writes `data` to `path` atomically: a temporary file in the same directory is written, flushed
/// to disk and renamed over the target, so a crash leaves either the old file or the new one.
public func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let temporary = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp").path
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw FormatError.io(file: path, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
    var failure: String?
    data.withUnsafeBytes { raw in
        var written = 0
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n <= 0 { failure = "write failed: \(String(cString: strerror(errno)))"; return }
            written += n
        }
    }
    if failure == nil && fsync(fd) != 0 { failure = "fsync failed: \(String(cString: strerror(errno)))" }
    close(fd)
    if failure == nil && rename(temporary, path) != 0 { failure = "rename failed: \(String(cString: strerror(errno)))" }
    if let failure {
        unlink(temporary)
        throw FormatError.io(file: path, failure)
    }
}

/// A request that cannot be met as asked — a model name nothing answers to, a run directory that
/// already holds a run — with what to do instead. (The CLI exits with the usage status, 64.)
public struct RequestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
