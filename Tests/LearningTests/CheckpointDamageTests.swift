import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

/// A checkpoint is input like any other. `--resume` never deletes: a missing or broken `latest`
/// falls back to the newest checkpoint that verifies, and still ends bit-identical to an
/// uninterrupted run; a damaged checkpoint stops the run naming the file, and nothing in the run
/// directory changes.
@Suite(.serialized) struct CheckpointDamageTests {
    let resume = ResumeTests()
    let lamol = { LAMOL(prompting: .task, sampleRatio: 0.25, maxSampleLength: 30) }

    @Test(arguments: ["deleted", "a folder", "garbage", "names another folder"])
    func aBrokenLatestFallsBackToTheNewestCheckpoint(how: String) throws {
        try resume.checkResumeEquivalence(lamol, stopAfterSteps: 13, tag: "latest-\(how.prefix(3))") { run in
            let latest = run + "/checkpoints/latest"
            try FileManager.default.removeItem(atPath: latest)
            switch how {
            case "a folder": try FileManager.default.createDirectory(atPath: latest, withIntermediateDirectories: false)
            case "garbage": try Data([0xFF, 0x00, 0x41]).write(to: URL(fileURLWithPath: latest))
            case "names another folder": try Data("stage9-step0".utf8).write(to: URL(fileURLWithPath: latest))
            default: break
            }
        }
    }

    /// A run killed while writing its first checkpoint (a folder without its manifest, no `latest`)
    /// starts again from the beginning, ends as an uninterrupted run, and keeps the folder aside.
    @Test func aRunKilledWhileWritingItsFirstCheckpointStartsAgain() throws {
        var setAside: [String] = []
        try resume.checkResumeEquivalence(lamol, stopAfterSteps: 13, tag: "first-checkpoint") { run in
            let checkpoints = run + "/checkpoints"
            try FileManager.default.removeItem(atPath: checkpoints + "/latest")
            for folder in try FileManager.default.contentsOfDirectory(atPath: checkpoints) {
                try FileManager.default.removeItem(atPath: "\(checkpoints)/\(folder)/manifest.json")
                setAside.append("damaged-" + folder)
            }
        } check: { run in
            let kept = try FileManager.default.contentsOfDirectory(atPath: run + "/checkpoints")
            #expect(setAside.allSatisfy(kept.contains), "kept aside: \(kept)")
        }
    }

    /// `sample` and `evaluate` read the same newest checkpoint that verifies, and say so.
    @Test func readOnlyCommandsSayWhichCheckpointTheyUse() throws {
        let base = NSTemporaryDirectory() + "damage-note-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(try resume.run(lamol, directory: base, stopAfterSteps: 13) == nil)
        let checkpoints = RunCheckpoints(runDirectory: base)
        let named = try #require(try checkpoints.newest())
        #expect(named.note == nil)
        try FileManager.default.removeItem(atPath: base + "/checkpoints/latest")
        let found = try #require(try checkpoints.newest())
        #expect(found.path == named.path && found.note?.contains("checkpoints/latest is not usable") == true)
        #expect(!FileManager.default.fileExists(atPath: base + "/checkpoints/latest"), "reading writes nothing")
    }

    /// A run written before checkpoints had manifests (its folder, named by `latest`, has none)
    /// still resumes to the uninterrupted run's weights; its fields are checked all the same.
    @Test func aCheckpointFromBeforeManifestsStillResumes() throws {
        try resume.checkResumeEquivalence(lamol, stopAfterSteps: 13, tag: "legacy") { run in
            let checkpoints = RunCheckpoints(runDirectory: run)
            let folder = try #require(try checkpoints.latest()).path
            try FileManager.default.removeItem(atPath: folder + "/manifest.json")
        }
    }

    /// A shortened log is continued, not padded with NUL bytes, and the gap is logged.
    @Test func aTruncatedLogIsNotPadded() throws {
        let base = NSTemporaryDirectory() + "damage-log-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(try resume.run(lamol, directory: base, stopAfterSteps: 13) == nil)
        let log = base + "/log.jsonl"
        let text = try Data(contentsOf: URL(fileURLWithPath: log))
        try text.prefix(40).write(to: URL(fileURLWithPath: log))
        _ = try #require(try resume.run(lamol, directory: base, resume: true))
        let after = try Data(contentsOf: URL(fileURLWithPath: log))
        #expect(!after.contains(0), "no NUL bytes")
        #expect(String(decoding: after, as: UTF8.self).contains(#""event":"log_gap""#))
    }

    /// Each damage stops the resume with an error naming `file`, and leaves every file as it was.
    @Test(arguments: [
        ("flipped bit in the weights", "model.safetensors"),
        ("items outside the vocabulary", "items.json"),
        ("no optimiser moments", "optimizer.safetensors"),
        ("short optimiser moments", "optimizer.safetensors"),
        ("counters past the stage", "steps_done"),
        ("a ragged score matrix", "matrix"),
        ("a file not in the manifest", "extra.bin"),
    ])
    func aDamagedCheckpointIsRefusedAndKept(damage: String, named: String) throws {
        let base = NSTemporaryDirectory() + "damage-\(getpid())-\(damage.prefix(12).replacingOccurrences(of: " ", with: "-"))"
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(try resume.run(lamol, directory: base, stopAfterSteps: 13) == nil)
        let folder = try #require(try RunCheckpoints(runDirectory: base).latest()).path
        func file(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        func edit(_ name: String, _ change: (inout Data) throws -> Void, keepManifest: Bool = true) throws {
            var data = try Data(contentsOf: URL(fileURLWithPath: file(name)))
            try change(&data)
            try data.write(to: URL(fileURLWithPath: file(name)))
            if keepManifest { try rewriteManifest(folder) }  // a writer that keeps the manifest in step: the fields are checked too
        }
        func editJSON(_ name: String, _ change: (inout [String: Any]) -> Void) throws {
            try edit(name) { data in
                var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
                change(&object)
                data = try JSONSerialization.data(withJSONObject: object)
            }
        }
        switch damage {
        case "flipped bit in the weights": try edit("model.safetensors", { $0[$0.count - 3] ^= 0x10 }, keepManifest: false)
        case "items outside the vocabulary":
            try edit("items.json") { data in
                var text = String(decoding: data, as: UTF8.self)
                text = text.replacingOccurrences(of: #""tokens":["#, with: #""tokens":[999999,"#, options: [], range: text.range(of: #""tokens":["#))
                text = text.replacingOccurrences(of: #""targets":["#, with: #""targets":[-100,"#, options: [], range: text.range(of: #""targets":["#))
                text = text.replacingOccurrences(of: #""weights":["#, with: #""weights":[0,"#, options: [], range: text.range(of: #""weights":["#))
                data = Data(text.utf8)
            }
        case "no optimiser moments":
            try FileManager.default.removeItem(atPath: file("optimizer.safetensors"))
            try rewriteManifest(folder)
        case "short optimiser moments":
            let moments = try SafetensorsFile(path: file("optimizer.safetensors"))
            let tensors = try moments.names.map { name -> (String, Tensor) in
                let values = try moments.tensor(name).scalars
                let kept = name.hasPrefix("m.") ? Array(values.dropLast()) : values
                return (name, Tensor(kept, shape: [kept.count]))
            }
            try SafetensorsFile.write(tensors, to: file("optimizer.safetensors"))
            try rewriteManifest(folder)
        case "counters past the stage": try editJSON("state.json") { $0["steps_done"] = 1_000_000 }
        case "a ragged score matrix": try editJSON("state.json") { $0["matrix"] = [[1.0]] }
        default: try Data([1, 2, 3]).write(to: URL(fileURLWithPath: file("extra.bin")))
        }
        let before = try digests(of: base)
        #expect { try resume.run(lamol, directory: base, resume: true) } throws: {
            // A checkpoint that verifies but does not fit says whether an earlier one could be used.
            "\($0)".contains(named) && (damage != "items outside the vocabulary" || "\($0)".contains("no other checkpoint of this run verifies"))
        }
        #expect(try digests(of: base) == before, "nothing in the run directory changed")
    }

    /// A flipped bit anywhere in the only checkpoint: nothing can be used, and the error names it.
    @Test func withNoUsableCheckpointTheErrorNamesEachProblem() throws {
        let base = NSTemporaryDirectory() + "damage-all-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(try resume.run(lamol, directory: base, stopAfterSteps: 13) == nil)
        let folder = try #require(try RunCheckpoints(runDirectory: base).latest()).path
        try FileManager.default.removeItem(atPath: base + "/checkpoints/latest")
        let state = folder + "/state.json"
        var data = try Data(contentsOf: URL(fileURLWithPath: state))
        data[10] ^= 0x01
        try data.write(to: URL(fileURLWithPath: state))
        #expect { try RunCheckpoints(runDirectory: base).latest() } throws: {
            "\($0)".contains("no usable checkpoint") && "\($0)".contains("state.json: does not match its sha256")
        }
    }

    func rewriteManifest(_ folder: String) throws {
        var files: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name != "manifest.json" && !name.hasPrefix(".") {
            files[name] = try FileDigest.sha256(ofFile: (folder as NSString).appendingPathComponent(name))
        }
        try JSONSerialization.data(withJSONObject: ["files": files]).write(to: URL(fileURLWithPath: folder + "/manifest.json"))
    }

    func digests(of root: String) throws -> [String: String] {
        var sums: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            let path = (root as NSString).appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue, relative != ".lock" else { continue }
            sums[relative] = try FileDigest.sha256(ofFile: path)
        }
        return sums
    }
}
