import Foundation
import LifelongLearning
import Testing

@Suite struct SweepTests {
    let base = """
        model: scratch
        scratch: {architecture: gpt2, hidden: 16, layers: 1, heads: 2, positions: 64}
        stream: [a, b, c]
        method: {name: lamol, sample_ratio: 0.1}
        """

    func sweep(_ axes: String, base: String? = nil) throws -> Sweep {
        let indented = (base ?? self.base).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        return try Sweep(yaml: "name: grid\nbase:\n\(indented)\naxes:\n\(axes)", source: "grid.yaml")
    }

    /// Axes multiply in the order written; each point is named by its values and parses as a run config.
    @Test func expandsTheGridInAxisOrder() throws {
        let grid = try sweep("  method.name: [finetune, lamol]\n  seed: [1, 2, 3]")
        #expect(grid.points.count == 6)
        #expect(grid.points.map(\.name) == ["finetune_seed-1", "finetune_seed-2", "finetune_seed-3", "lamol_seed-1", "lamol_seed-2", "lamol_seed-3"])
        #expect(grid.points[4].overrides == ["method.name=lamol", "seed=2", "name=lamol_seed-2"])
        let config = try grid.config(grid.points[4])
        #expect(config.name == "lamol_seed-2" && config.seed == 2 && config.methodName == "lamol")
        #expect(try grid.config(grid.points[0]).method is Finetune.Config, "switching the method drops LAMOL's keys")
    }

    /// A mapping value sets several keys of its section together (a method variant).
    @Test func aMappingValueSetsSeveralKeys() throws {
        let grid = try sweep("  method:\n    - {name: finetune}\n    - {name: lifelong_moe, dense: true}\n  seed: [1]")
        #expect(grid.points.map(\.name) == ["finetune_seed-1", "lifelong-moe_dense-true_seed-1"])
        #expect(grid.points[1].overrides == ["method.name=lifelong_moe", "method.dense=true", "seed=1", "name=lifelong-moe_dense-true_seed-1"])
        #expect((try grid.config(grid.points[1]).method as? LifelongMoE.Config)?.settings.dense == true)
        #expect { try sweep("  method:\n    - {name: [a, b]}") } throws: { "\($0)".contains("mapping value must map keys to scalars") }
    }

    @Test func ordersArePermutationsReversalsRandomOrListed() throws {
        let permutations = try sweep("  order: permutations").points
        #expect(permutations.count == 6 && permutations[0].overrides[0] == "stream=[\"a\", \"b\", \"c\"]")
        #expect(Set(permutations.map { $0.overrides[0] }).count == 6)
        #expect(try sweep("  order: reverse").points.map { $0.overrides[0] } == ["stream=[\"a\", \"b\", \"c\"]", "stream=[\"c\", \"b\", \"a\"]"])
        let random = try sweep("  order: {random: 4, seed: 7}").points
        #expect(random.count == 4 && Set(random.map { $0.overrides[0] }).count == 4)
        #expect(try sweep("  order: {random: 4, seed: 7}").points == random, "seeded: the same orders every time")
        #expect(try sweep("  order: [[b, a, c], [c, a, b]]").points.map(\.name) == ["order-1", "order-2"])
        let config = try sweep("  order: reverse").config(try sweep("  order: reverse").points[1])
        #expect(config.stream == ["c", "b", "a"])
    }

    @Test(arguments: [
        ("  order: [[a, b]]", "an order must list the base stream's tasks"),
        ("  seed: 3", "axis 'seed' must be a non-empty list"),
        ("  training.epochs: [0]", "'training.epochs' must be in"),
        ("  seed: [\((1...2000).map(String.init).joined(separator: ", "))]\n  order: permutations", "the grid has 12000 points"),
    ])
    func badSweepsAreRefusedNamingTheProblem(axes: String, message: String) {
        #expect { try sweep(axes) } throws: { "\($0)".contains("grid.yaml") && "\($0)".contains(message) }
    }

    /// The whole command on the synthetic stream (no data needed), two points at a time: every point
    /// finishes, the report groups the seeds, and a second call skips the finished points.
    @Test func runsASweepLocallyWithTwoJobs() throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let binary = root.appendingPathComponent(".build/release/lifelong").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "the release binary is built by `make test` (\(binary))")
        let directory = NSTemporaryDirectory() + "sweep-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/sweep.yaml"
        try """
            name: small
            base:
              model: scratch
              scratch: {architecture: gpt2, hidden: 16, layers: 1, heads: 2, positions: 64}
              stream: synthetic
              subsample: {train: 8, test: 4}
              training: {epochs: 1, max_length: 64, tokens_per_batch: 256}
            axes:
              method.name: [finetune, multitask]
              seed: [1, 2]
            """.write(toFile: file, atomically: true, encoding: .utf8)
        func sweep(_ extra: [String]) throws -> String {
            let process = Process(), pipe = Pipe()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["sweep", file, "--runs", directory + "/runs"] + extra
            process.standardOutput = pipe; process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(output)")
            return output
        }
        _ = try sweep(["--jobs", "2", "--threads", "1"])
        #expect(try sweep(["--status"]).split(separator: "\n").allSatisfy { $0.hasSuffix(": done") })
        #expect(try sweep([]).contains("4 points, 4 done; running 0"))
        let report = try Report(runDirectories: ["finetune_seed-1", "finetune_seed-2", "multitask_seed-1", "multitask_seed-2"]
            .map { "\(directory)/runs/small/\($0)" })
        #expect(report.groups.groups.map { $0.runs.count } == [2, 2])
        #expect(FileManager.default.fileExists(atPath: directory + "/runs/small/report/report.html"))

        // Two sweeps of one directory at once share the points: each point runs once (one start
        // event, never resumed), none fails, and whichever sweep skips a point leaves its files alone.
        try FileManager.default.removeItem(atPath: directory + "/runs")
        let both = [Process(), Process()], pipes = [Pipe(), Pipe()]
        for (process, pipe) in zip(both, pipes) {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["sweep", file, "--runs", directory + "/runs", "--jobs", "1", "--threads", "1"]
            process.standardOutput = pipe; process.standardError = pipe
            try process.run()
        }
        let outputs = pipes.map { String(decoding: $0.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        for (process, output) in zip(both, outputs) {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(output)")
        }
        for name in ["finetune_seed-1", "finetune_seed-2", "multitask_seed-1", "multitask_seed-2"] {
            let log = try String(contentsOfFile: "\(directory)/runs/small/\(name)/log.jsonl", encoding: .utf8)
            #expect(log.components(separatedBy: "\"event\":\"start\"").count == 2, "\(name) started once")
            #expect(!log.contains("\"resumed\""), "\(name) was not run again")
            let ran = outputs.filter { $0.contains("\(name): done") }.count
            #expect(ran == 1, "\(name) reported done by \(ran) sweeps: \(outputs)")
        }
    }

    /// `1e-1` and `1e+1` would both name their run `learning-rate-1e-1`: refused, naming both.
    @Test func pointsThatWouldShareARunNameAreRefused() {
        #expect { try sweep("  training.learning_rate: [1e-1, 1e+1]") } throws: {
            "\($0)".contains("share the run name 'learning-rate-1e-1'") && "\($0)".contains("training.learning_rate=1e-1 and training.learning_rate=1e+1")
        }
        #expect { try sweep("  method.name: [lamol, LAMOL]") } throws: { "\($0)".contains("share the run name") }
    }
}
