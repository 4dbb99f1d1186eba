import Foundation

/// Reading a file that the user, a run directory or a download put there.
///
/// Only regular files are read (symbolic links are followed): a named pipe, a device, a socket or
/// a directory in the place of a file is refused before anything blocks on it. A FIFO given as
/// `--wheel` or in the place of a cached model's weights would otherwise wait forever for a writer.
public enum UserFile {
    /// The whole file.
    public static func data(_ path: String) throws -> Data {
        let fd = try openRegular(path)
        defer { close(fd) }
        var info = stat()
        _ = fstat(fd, &info)
        var data = Data(count: Int(info.st_size))
        var filled = 0
        let failure: String? = data.withUnsafeMutableBytes { raw in
            while filled < raw.count {
                let n = read(fd, raw.baseAddress! + filled, raw.count - filled)
                if n < 0 { return String(cString: strerror(errno)) }
                if n == 0 { break }  // the file shrank while being read
                filled += n
            }
            return nil
        }
        if let failure { throw FormatError.io(file: path, "cannot read: \(failure)") }
        return data.prefix(filled)
    }

    /// The whole file as UTF-8 text.
    public static func text(_ path: String) throws -> String {
        guard let text = String(data: try data(path), encoding: .utf8) else { throw FormatError(file: path, "not valid UTF-8 text") }
        return text
    }

    /// A descriptor of the regular file at `path`, opened without blocking (a FIFO's `open` would
    /// wait for a writer) and checked with `fstat` on what was opened, not on the name.
    public static func openRegular(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            throw FormatError.io(file: path, "cannot open: \(reason)")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw FormatError.io(file: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FormatError(file: path, "not a regular file (\(kind(info.st_mode))); only regular files are read")
        }
        return fd
    }

    private static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a named pipe"
        case S_IFCHR, S_IFBLK: return "a device"
        case S_IFSOCK: return "a socket"
        default: return "not a plain file"
        }
    }
}
