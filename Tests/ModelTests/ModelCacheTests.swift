import Foundation
import LifelongModels
import Testing

@Suite struct ModelCacheTests {
    /// Runs record the model file's sha256 from the manifest `pull` wrote; a file outside the
    /// cache has none (it is not guessed).
    @Test func theRecordedChecksumOfACachedFileIsFound() throws {
        let root = NSTemporaryDirectory() + "model-cache-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let model = ModelCache.known[0]
        let file = "\(root)/\(model.name)/\(model.pathInPackage)"
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("weights".utf8).write(to: URL(fileURLWithPath: file))
        let manifest = ["sha256": [model.pathInPackage: "ab12"]]
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: "\(root)/\(model.name)/manifest.json"))
        let cache = ModelCache(directory: root)
        #expect(cache.recordedSHA256(ofFile: file) == "ab12")
        #expect(cache.recordedSHA256(ofFile: root + "/elsewhere.gguf") == nil)
    }
}
