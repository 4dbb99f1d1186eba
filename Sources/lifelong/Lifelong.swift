import ArgumentParser
import LifelongLearning
import LifelongEngine

@main
struct Lifelong: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifelong",
        abstract: "One language model learning a stream of NLP tasks without forgetting.",
        version: Provenance.version,
        subcommands: [Demo.self, Run.self, SweepCommand.self, ReportCommand.self, Sample.self, DataCommand.self, Models.self, Tokenize.self, Generate.self, Embed.self, Bench.self]
    )
}

/// Checks a sampling option where it enters: k ≥ 1, p in (0, 1], a finite positive temperature.
func validateSampling(topK: Int?, topP: Float?, temperature: Float?) throws {
    if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1, not \(topK)") }
    if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1], not \(topP)") }
    if let temperature, !(temperature.isFinite && temperature > 0 && temperature <= 100) {
        throw ValidationError("--temperature must be a finite number in (0, 100], not \(temperature)")
    }
}

/// Options every compute-heavy command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for BLAS and the engine's kernels (default: all cores).")
    var threads: Int?

    func apply() throws {
        if let threads {
            guard (1...256).contains(threads) else { throw ValidationError("--threads must be in 1…256, not \(threads)") }
            Parallel.setThreads(threads)
        } else {
            Parallel.setThreads(Parallel.threads)
        }
    }
}
