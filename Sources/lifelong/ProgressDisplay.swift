import Foundation
import LifelongLearning

/// Shows how a run is going. On a terminal: one status line on standard error, redrawn in place
/// (task i/T, epoch, step, loss, tokens/s, ETA; or pseudo-sample generation; or evaluation).
/// Otherwise (a log file, CI): plain lines, a training line at most every `plainInterval` seconds.
final class ProgressDisplay {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let epochs: Int
    private let plainInterval: TimeInterval = 30
    private var stage = (index: 0, count: 1, label: "")
    private var stageStart = Date(), firstStep: Int?, lastPlainLine = Date.distantPast
    private var barShown = false

    init(epochs: Int) {
        self.epochs = epochs
        setvbuf(stdout, nil, _IOLBF, 0)  // log lines reach a file as they happen
    }

    func handle(_ event: RunEvent) {
        switch event {
        case let .message(line):
            clearBar()
            print(line)
        case let .stageStarted(index, count, label):
            stage = (index, count, label); firstStep = nil
        case let .generating(done, total):
            bar("generating pseudo-samples", done: done, of: total)
        case let .trained(log):
            if firstStep == nil { firstStep = log.step + 1; stageStart = Date() }  // time from the end of the first step
            let done = log.step + 1, stepsTimed = done - firstStep!
            let eta = stepsTimed > 0 ? Date().timeIntervalSince(stageStart) / Double(stepsTimed) * Double(log.totalSteps - done) : nil
            let loss = log.losses.map { $0.name.replacingOccurrences(of: "_loss", with: "") + String(format: " %.3f", $0.value) }
                .joined(separator: " ")
            let detail = "epoch \(log.epoch + 1)/\(epochs) · step \(done)/\(log.totalSteps) · \(loss) · "
                + String(format: "%.0f tok/s", log.tokensPerSecond) + (eta.map { " · ETA \(duration($0))" } ?? "")
            if isTerminal {
                bar(detail, done: done, of: log.totalSteps)
            } else if Date().timeIntervalSince(lastPlainLine) >= plainInterval || done == log.totalSteps {
                lastPlainLine = Date()
                print("[task \(stage.index + 1)/\(stage.count) \(stage.label)] \(detail)")
            }
        case let .evaluating(index, count, task):
            bar("evaluating \(task)", done: index, of: count)
        case .checkpointed:
            break
        }
    }

    /// Redraws the status line (terminal only).
    private func bar(_ text: String, done: Int, of total: Int) {
        guard isTerminal else { return }
        let width = 20, filled = total > 0 ? min(width, width * done / total) : 0
        let line = "task \(stage.index + 1)/\(stage.count) \(stage.label) [\(String(repeating: "█", count: filled))"
            + "\(String(repeating: "·", count: width - filled))] \(text)"
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + String(line.prefix(terminalWidth() - 1))).utf8))
        barShown = true
    }

    private func clearBar() {
        guard barShown else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
        barShown = false
    }

    private func terminalWidth() -> Int {
        var size = winsize()
        return ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 100
    }

    private func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, (0..<1e9).contains(seconds) else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}

/// Ctrl-C asks a run to stop: it finishes the current step, writes a checkpoint and exits. A
/// second Ctrl-C quits at once (the last checkpoint written stays valid).
final class InterruptRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false
    private var source: DispatchSourceSignal?

    init() {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [unowned self] in
            let again = lock.withLock { defer { requested = true }; return requested }
            if again { exit(130) }
            FileHandle.standardError.write(Data("\nStopping after this step to write a checkpoint (Ctrl-C again to quit now)…\n".utf8))
        }
        source.resume()
        self.source = source
    }

    deinit { source?.cancel() }

    var isRequested: Bool { lock.withLock { requested } }
}
