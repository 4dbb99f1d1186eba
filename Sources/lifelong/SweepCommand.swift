import ArgumentParser
import Foundation
import LifelongFormats
import LifelongLearning

/// `lifelong sweep FILE`: every point of a grid as an ordinary run in `<runs>/<sweep>/<point>/`,
/// on this machine (`--jobs N` processes at once, the cores divided among them); finished points
/// are skipped, interrupted ones resumed, a failed one is recorded and the others go on. Ends with
/// a report over all points (means ± sd over seeds and orders).
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sweep",
        abstract: "Run a grid of configs (methods × seeds × task orders …) and report means ± sd.")

    @Argument(help: "The sweep file (YAML: name, base, axes).") var file: String
    @Option(help: "Parent directory of the sweep's directory.") var runs = "runs"
    @Option(parsing: .unconditional, help: "Points run at once, each in its own process.") var jobs = 1
    @Option(parsing: .unconditional, help: "Threads per point (default: the cores divided by --jobs).") var threads: Int?
    @Flag(help: "List the points and their overrides; run nothing.") var dryRun = false
    @Flag(help: "Show each point's state: done, running, failed, interrupted or pending.") var status = false
    @Flag(help: "Submit the points as a Slurm job array (sbatch) instead of running them here.") var slurm = false
    @Option(help: "Slurm: partition.") var partition: String?
    @Option(help: "Slurm: time limit per point.") var time = "04:00:00"
    @Option(parsing: .unconditional, help: "Slurm: CPUs per point (also its --threads).") var cpus = 2
    @Option(help: "Slurm: memory per point.") var memory = "8G"
    @Option(help: ArgumentHelp("Run only the point of this index (what each Slurm array task does).", visibility: .hidden))
    var point: Int?

    func validate() throws {
        guard (1...256).contains(jobs) else { throw ValidationError("--jobs must be in 1…256, not \(jobs)") }
        guard (1...1024).contains(cpus) else { throw ValidationError("--cpus must be in 1…1024, not \(cpus)") }
        for (flag, value) in [("--time", time), ("--memory", memory), ("--partition", partition ?? "p")]
        where value.isEmpty || !value.allSatisfy({ $0.isLetter || $0.isNumber || ":-_.".contains($0) }) {
            throw ValidationError("\(flag) '\(value)' is not a Slurm value")
        }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be in 1…256, not \(threads)") }
    }

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)  // a line per finished point, also when the output goes to a file
        let text = try UserFile.text(file)
        let sweep = try Sweep(yaml: text, source: file)
        let directory = (runs as NSString).appendingPathComponent(sweep.name)
        if dryRun {
            for point in sweep.points { print("\(point.name): " + point.overrides.map { "--set '\($0)'" }.joined(separator: " ")) }
            print("\(sweep.points.count) points in \(directory)/")
            return
        }
        if status, let job = try? UserFile.text((directory as NSString).appendingPathComponent("slurm-job")) {
            print("Slurm job \(job.trimmingCharacters(in: .whitespacesAndNewlines)): " + slurmQueue(job.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        if status {
            for point in sweep.points { print("\(point.name): \(state(of: point, in: directory))") }
            return
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let base = try sweep.basePath ?? { () throws -> String in
            let path = (directory as NSString).appendingPathComponent("base.yaml")
            try writeAtomically(Data(sweep.base.utf8), to: path)
            return path
        }()
        if let point {
            guard sweep.points.indices.contains(point) else { throw ValidationError("--point \(point) is not in 0…\(sweep.points.count - 1)") }
            if state(of: sweep.points[point], in: directory) != "done" {
                execute(sweep.points[point], base: base, in: directory, threads: threads ?? cpus)
            }
            return
        }
        if slurm { return try submit(sweep, base: base, in: directory) }
        let pending = sweep.points.filter { state(of: $0, in: directory) != "done" }
        print("\(sweep.points.count) points, \(sweep.points.count - pending.count) done; running \(pending.count) with \(jobs) at a time")
        let perPoint = threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / jobs)
        let queue = PointQueue(pending)
        let group = DispatchGroup()
        for _ in 0..<min(jobs, pending.count) {
            group.enter()
            Thread.detachNewThread {
                while let point = queue.next() { self.execute(point, base: base, in: directory, threads: perPoint) }
                group.leave()
            }
        }
        group.wait()
        let finished = sweep.points.map { (directory as NSString).appendingPathComponent($0.name) }
            .filter { FileManager.default.fileExists(atPath: ($0 as NSString).appendingPathComponent("results.json")) }
        if !finished.isEmpty {
            try Report(runDirectories: finished).write(to: (directory as NSString).appendingPathComponent("report"))
            print("Report: \(directory)/report/report.html")
        }
        let failed = sweep.points.filter { state(of: $0, in: directory) == "failed" }
        if !failed.isEmpty { throw ValidationError("\(failed.count) points failed: \(failed.map(\.name).joined(separator: ", ")) (see error.txt in each)") }
    }

    /// Runs one point as `lifelong run BASE --set … --runs DIR [--resume]`; its output goes to
    /// `<point>.log`, a failure's last lines to `<point>/error.txt`.
    ///
    /// The point is claimed first (`.<point>.lock` in the sweep directory, held until it ends), so
    /// two sweeps of one directory — two terminals, or Slurm tasks beside a local sweep — share the
    /// points instead of running one twice, and never touch the log of a point the other runs.
    func execute(_ point: Sweep.Point, base: String, in directory: String, threads: Int) {
        let claimFile = (directory as NSString).appendingPathComponent(".\(point.name).lock")
        guard let claim = try? RunDirectoryLock(file: claimFile, inUse: { _ in PointClaimed() }) else {
            return print("\(point.name): skipped (another sweep runs it)")
        }
        defer { withExtendedLifetime(claim) {} }
        switch state(of: point, in: directory) {
        case "done": return print("\(point.name): skipped (done by another sweep)")
        case "running": return print("\(point.name): skipped (its run is in use by another process)")
        default: break
        }
        let runDirectory = (directory as NSString).appendingPathComponent(point.name)
        let resume = FileManager.default.fileExists(atPath: (runDirectory as NSString).appendingPathComponent("config.yaml"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Bundle.main.executablePath ?? CommandLine.arguments[0])
        process.arguments = ["run", base] + point.overrides.flatMap { ["--set", $0] } + ["--runs", directory, "--threads", "\(threads)"]
            + (resume ? ["--resume"] : [])
        let logPath = (directory as NSString).appendingPathComponent("\(point.name).log")
        let errorFile = (runDirectory as NSString).appendingPathComponent("error.txt")
        try? FileManager.default.removeItem(atPath: errorFile)
        func couldNotStart(_ reason: String) {
            print("\(point.name): could not start: \(reason)")
            try? FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
            try? writeAtomically(Data("could not start: \(reason)\n".utf8), to: errorFile)
        }
        guard FileManager.default.createFile(atPath: logPath, contents: nil), let log = FileHandle(forWritingAtPath: logPath) else {
            return couldNotStart("cannot create \(logPath)")
        }
        process.standardOutput = log; process.standardError = log
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            return couldNotStart(describeFileError(error))
        }
        try? log.close()
        let outcome = process.terminationStatus == 0 ? "done" : "failed (exit \(process.terminationStatus))"
        print("\(point.name): \(outcome)")
        if process.terminationStatus != 0 {
            let tail = ((try? UserFile.text(logPath)) ?? "").split(separator: "\n").suffix(20).joined(separator: "\n")
            try? FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
            try? writeAtomically(Data("exit \(process.terminationStatus)\n\(tail)\n".utf8), to: errorFile)
        }
    }

    /// Writes `<sweep>/sweep.sbatch` (one array task per point, each running `lifelong sweep FILE
    /// --point $SLURM_ARRAY_TASK_ID`) and submits it; the binary, the sweep file and the run
    /// directories must be on a file system every node sees.
    func submit(_ sweep: Sweep, base: String, in directory: String) throws {
        let absolute = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.path }
        let binary = absolute(Bundle.main.executablePath ?? CommandLine.arguments[0])
        var lines = ["#!/bin/bash", "#SBATCH --job-name=\(sweep.name)", "#SBATCH --array=0-\(sweep.points.count - 1)",
                     "#SBATCH --cpus-per-task=\(cpus)", "#SBATCH --mem=\(memory)", "#SBATCH --time=\(time)",
                     "#SBATCH --output=\(absolute(directory))/slurm-%A_%a.log"]
        if let partition { lines.append("#SBATCH --partition=\(partition)") }
        lines += ["cd '\(FileManager.default.currentDirectoryPath)'",
                  "exec '\(binary)' sweep '\(absolute(file))' --runs '\(absolute(runs))' --point \"$SLURM_ARRAY_TASK_ID\" --threads \(cpus)"]
        let script = (directory as NSString).appendingPathComponent("sweep.sbatch")
        try writeAtomically(Data((lines.joined(separator: "\n") + "\n").utf8), to: script)
        let output = try runTool("sbatch", ["--parsable", script])
        let job = output.split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard !job.isEmpty, job.allSatisfy(\.isNumber) else { throw ValidationError("sbatch did not return a job id: \(output)") }
        try writeAtomically(Data(job.utf8), to: (directory as NSString).appendingPathComponent("slurm-job"))
        print("Submitted Slurm job \(job) (\(sweep.points.count) array tasks); follow it with: lifelong sweep \(file) --status"
              + (runs == "runs" ? "" : " --runs \(runs)"))
    }

    /// The job's array tasks as `squeue` sees them (or `sacct` once they left the queue).
    func slurmQueue(_ job: String) -> String {
        if let queued = try? runTool("squeue", ["-h", "-j", job, "-o", "%K %T"]), !queued.isEmpty {
            return queued.split(separator: "\n").joined(separator: ", ")
        }
        return (try? runTool("sacct", ["-n", "-X", "-j", job, "-o", "JobID,State"]))?.split(separator: "\n")
            .map { $0.split(separator: " ").joined(separator: " ") }.joined(separator: ", ") ?? "not known to squeue or sacct"
    }

    /// Runs a command found on PATH and returns its standard output; a failure names the command.
    func runTool(_ name: String, _ arguments: [String]) throws -> String {
        let process = Process(), pipe = Pipe(), errors = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name] + arguments
        process.standardOutput = pipe; process.standardError = errors
        do { try process.run() } catch { throw ValidationError("cannot run \(name): \(error.localizedDescription)") }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("\(name) failed (exit \(process.terminationStatus)): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// done (every stage evaluated), running (its lock is held), failed (error.txt), interrupted
    /// (a checkpoint and no result yet) or pending.
    func state(of point: Sweep.Point, in directory: String) -> String {
        let run = (directory as NSString).appendingPathComponent(point.name)
        let fm = FileManager.default
        if let data = try? UserFile.data((run as NSString).appendingPathComponent("results.json")),
           let results = try? StrictJSON.decode(StreamRunner.Results.self, from: data, file: "results.json"),
           results.complete ?? (results.matrix.count == results.tasks.count || (results.matrix.count == 1 && results.method == "multitask")) {
            return "done"
        }
        guard fm.fileExists(atPath: run) else { return "pending" }
        if (try? RunDirectoryLock(runDirectory: run)) == nil { return "running" }
        if fm.fileExists(atPath: (run as NSString).appendingPathComponent("error.txt")) { return "failed" }
        return fm.fileExists(atPath: (run as NSString).appendingPathComponent("checkpoints")) ? "interrupted" : "pending"
    }
}

/// The points still to run, handed out one at a time to the worker threads.
private final class PointQueue: @unchecked Sendable {
    private var points: [Sweep.Point]
    private let lock = NSLock()
    init(_ points: [Sweep.Point]) { self.points = points.reversed() }
    func next() -> Sweep.Point? { lock.withLock { points.popLast() } }
}

/// Another sweep process holds a point's claim.
private struct PointClaimed: Error {}
