import ArgumentParser
import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels

@main
struct Lifelong: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifelong",
        abstract: "One language model learning a stream of NLP tasks without forgetting.",
        discussion: """
            Exit status: 0 success; 64 a wrong command line (unknown flag, value out of range); 65 a file \
            or config whose content is wrong (the message names the file and the key or line); 74 a \
            file that cannot be read or written (missing, permission, disk full); 70 a run stopped \
            because training diverged or the model's output is not finite; 130 interrupted (Ctrl-C; \
            `--resume` continues); 1 anything else.
            """,
        version: Provenance.version,
        subcommands: [Demo.self, Run.self, SweepCommand.self, ReportCommand.self, Evaluate.self, Sample.self, Export.self, DataCommand.self, Models.self, Tokenize.self, Generate.self, Embed.self, Bench.self]
    )

    /// Parses the command line (its errors print the usage, exit 64), runs the command, and maps
    /// what the command throws to the documented exit status with a one-line message.
    static func main() {
        var command: ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        do { try command.run() } catch { fail(error) }
    }

    static func fail(_ error: Error) -> Never {
        let status: Int32, message: String
        switch error {
        case let format as FormatError: (status, message) = (format.inputOutput ? 74 : 65, format.description)
        case let validation as ValidationError: (status, message) = (64, validation.message)
        case let request as RequestError: (status, message) = (64, request.description)
        case is TrainingDiverged, is NonFiniteLogits: (status, message) = (70, "\(error)")
        case let cocoa as CocoaError: (status, message) = (74, "\(cocoa.filePath ?? "file"): \(describeFileError(cocoa))")
        default: exit(withError: error)  // ExitCode and the parser's own errors keep their status
        }
        FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
        Foundation.exit(status)
    }
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
    @Option(parsing: .unconditional, help: "Threads for BLAS and the engine's kernels (default: all cores).")
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
