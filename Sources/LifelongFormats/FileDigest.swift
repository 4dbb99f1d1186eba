import Crypto
import Foundation

/// SHA-256 of files, as `sha256sum` prints it (64 lowercase hex digits). Model files are hashed
/// when they are pulled, every time they are loaded from the cache, and for a run's provenance.
public enum FileDigest {
    /// The sha256 of the file at `path`, read through a memory map in 16 MiB pieces (the map costs
    /// no copy, and the pieces keep the hasher's working set small).
    public static func sha256(ofFile path: String) throws -> String {
        let file = try MappedFile(path: path)
        var hasher = SHA256()
        let piece = 16 << 20
        var start = 0
        while start < file.bytes.count {
            let end = min(start + piece, file.bytes.count)
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: file.bytes[start..<end]))
            start = end
        }
        return hex(hasher.finalize())
    }

    public static func sha256(of data: Data) -> String { hex(SHA256.hash(data: data)) }

    private static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
