import ArgumentParser
import LifelongLearning
import LifelongEngine

@main
struct Lifelong: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifelong",
        abstract: "One language model learning a stream of NLP tasks without forgetting.",
        version: Provenance.version,
        subcommands: [Demo.self, Run.self, ReportCommand.self, Sample.self, DataCommand.self, Models.self, Tokenize.self, Generate.self, Embed.self, Bench.self]
    )
}

/// Options every compute-heavy command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for BLAS and the engine's kernels (default: all cores).")
    var threads: Int?

    func apply() throws {
        if let threads {
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
            Parallel.setThreads(threads)
        } else {
            Parallel.setThreads(Parallel.threads)
        }
    }
}
