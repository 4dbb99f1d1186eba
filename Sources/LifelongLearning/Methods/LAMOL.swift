import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels

/// LAMOL (Sun, Ho & Lee, ICLR 2020): the model learns each task with the QA and LM losses, and
/// before a new task it generates pseudo-samples of the earlier tasks and trains on them with the
/// new task's data. See ../shared/docs/METHODS.md §1.
public struct LAMOL: LifelongMethod {
    public enum Prompting: String, Codable, Sendable {
        /// LAMOL^GEN: one generic `__gen__` token prompts every pseudo-sample.
        case generic = "gen"
        /// LAMOL^TASK: one token per task; pseudo-samples are split equally among earlier tasks.
        case task
    }

    public var prompting: Prompting
    /// γ: pseudo-samples per new-task training example.
    public var sampleRatio: Double
    public var topK: Int
    /// Ablation: replay stored real examples of earlier tasks (same count) instead of generating.
    public var realReplay: Bool
    /// Longest generated pseudo-sample, in tokens.
    public var maxSampleLength: Int
    /// Not in the paper: while sampling, EOS cannot be chosen before ANS, so a pseudo-sample
    /// always reaches its answer. Helps a model that has seen too little LM training to emit ANS
    /// on its own (the samples are otherwise discarded as `no_ans`).
    public var requireAnswer: Bool
    public private(set) var pseudoSamples: [SampleStatistics] = []

    public var name: String { realReplay ? "replay" : "lamol-\(prompting.rawValue)" }
    /// `samples/<task>.jsonl`: every pseudo-sample made for a task, kept and discarded.
    static let samplesFolder = "samples"
    public static var artefactFolders: [String] { [samplesFolder] }

    public init(prompting: Prompting = .task, sampleRatio: Double = 0.2, topK: Int = 20, realReplay: Bool = false,
                maxSampleLength: Int = 256, requireAnswer: Bool = false) {
        self.prompting = prompting; self.sampleRatio = sampleRatio; self.topK = topK
        self.realReplay = realReplay; self.maxSampleLength = maxSampleLength; self.requireAnswer = requireAnswer
    }

    public func savedState() -> MethodState {
        MethodState(json: (try? JSONEncoder().encode(pseudoSamples)).map { String(decoding: $0, as: UTF8.self) })
    }

    public mutating func restore(_ state: MethodState) throws {
        guard let json = state.json else { return }
        pseudoSamples = try JSONDecoder().decode([SampleStatistics].self, from: Data(json.utf8))
    }

    public var statistics: MethodStatistics { MethodStatistics(pseudoSamples: pseudoSamples) }

    func gen(_ task: String, _ tokenizer: TaskTokenizer) -> Int {
        prompting == .task ? tokenizer.taskToken(task) : tokenizer.genericToken()
    }

    /// The task's real examples (QA + LM, prompted by its task token or `__gen__`), and from the
    /// second task on ⌈γ·n⌉ pseudo-samples of the earlier tasks (or stored real ones with `realReplay`).
    public mutating func planStage(_ context: StageContext) throws -> StagePlan {
        if let items = context.resumedItems { return StagePlan(items: items) }
        let (index, stream, task) = (context.index, context.stream, context.task)
        var items = task.train.map { context.item($0, gen: gen(task.name, context.tokenizer)) }
        guard index > 0 else { return StagePlan(items: items) }
        // A stage that starts again (after an interruption) writes its samples afresh.
        try context.artefacts(Self.samplesFolder)?.remove("\(task.name).jsonl")
        let total = Int((sampleRatio * Double(task.train.count)).rounded(.up))
        let earlier = Array(stream[..<index])
        // TASK: n/(t−1) per earlier task, the remainder to the first ones; GEN: all from `__gen__`.
        let quotas: [(task: TaskData?, count: Int)] = prompting == .task || realReplay
            ? earlier.enumerated().map { ($1, total / earlier.count + ($0 < total % earlier.count ? 1 : 0)) }
            : [(nil, total)]
        for (source, count) in quotas where count > 0 {
            if realReplay, let source {
                var shuffler = SeededShuffler(seed: context.seed &+ UInt64(index * 7919))
                let replayed = shuffler.shuffled(source.train).prefix(count)
                items += replayed.map { context.item($0, gen: gen(source.name, context.tokenizer), origin: .replayed) }
                pseudoSamples.append(SampleStatistics(forTask: task.name, of: source.name, generated: replayed.count, kept: replayed.count))
                continue
            }
            let prompt = source.map { gen($0.name, context.tokenizer) } ?? context.tokenizer.genericToken()
            let (kept, stats) = try generate(count: count, prompt: prompt, forTask: task.name, of: source?.name ?? "all", context: context, seed: UInt64(index))
            items += kept.map { context.item(contextQuestion: $0.0, answer: $0.1, gen: prompt, origin: .pseudo) }
            pseudoSamples.append(stats)
            context.report(.message("  pseudo-samples of \(stats.of): \(stats.summary)"))
        }
        return StagePlan(items: items)
    }

    /// Samples `count` sequences after `prompt` (top-k), keeps those with exactly one ANS and an
    /// EOS, and writes all of them (discarded ones with the reason) to `samples/<task>.jsonl`.
    func generate(count: Int, prompt: Int, forTask task: String, of source: String, context: StageContext,
                  seed: UInt64) throws -> (kept: [([Int], [Int])], SampleStatistics) {
        let tokenizer = context.tokenizer
        // A pseudo-sample and its one-token prompt must fit the model's positions (and the LM
        // sequence GEN + sample must fit them in training).
        let maxSampleLength = min(self.maxSampleLength, context.model.config.maxPositions - 1)
        var outputs: [[Int]] = []
        for start in stride(from: 0, to: count, by: 64) {
            context.report(.generating(done: start, total: count))
            outputs += try context.model.generate(prompts: [[Int]](repeating: [prompt], count: min(64, count - start)),
                                   options: GenerationOptions(maxNewTokens: maxSampleLength, strategy: .sample(topK: topK),
                                                              stopTokens: [tokenizer.endOfExampleToken()],
                                                              seed: context.seed &+ seed &* 1_000_003 &+ UInt64(start),
                                                              suppressed: requireAnswer ? ([tokenizer.endOfExampleToken()], tokenizer.answerToken()) : nil))
            // Ctrl-C after each batch: the stage has not trained, so the run resumes at its start.
            if context.shouldStop() { throw RunInterrupted(checkpoint: context.runDirectory.map { $0 + "/checkpoints" } ?? "(no run directory)") }
        }
        outputs = outputs.map { $0.count < maxSampleLength ? $0 + [tokenizer.endOfExampleToken()] : $0 }  // shorter than the cap: it stopped at EOS
        var stats = SampleStatistics(forTask: task, of: source, generated: outputs.count, kept: 0)
        var kept: [([Int], [Int])] = [], lines: [String] = [], seen = Set<[Int]>()
        for output in outputs {
            var line: [String: Any] = ["source": source]
            switch LAMOLSequences.parse(generated: output, ans: tokenizer.answerToken(), eos: tokenizer.endOfExampleToken()) {
            case let .success((cq, answer)):
                kept.append((cq, answer))
                if !seen.insert(cq + [-1] + answer).inserted { stats.duplicates += 1 }
                stats.totalLength += cq.count + answer.count + 2
                line["context_question"] = tokenizer.decode(cq); line["answer"] = tokenizer.decode(answer)
            case let .failure(reason):
                stats.discarded[reason.rawValue, default: 0] += 1
                // Discarded samples are kept in the file too: they show what went wrong.
                line["discarded"] = reason.rawValue; line["text"] = tokenizer.decode(output, showingEndOfText: true)
            }
            let json = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
            lines.append(json.map { String(decoding: $0, as: UTF8.self) } ?? "")
        }
        stats.kept = kept.count
        if let samples = context.artefacts(Self.samplesFolder) {
            let previous = (try? UserFile.text(try samples.path("\(task).jsonl"))) ?? ""
            try samples.write(Data((previous + lines.map { $0 + "\n" }.joined()).utf8), to: "\(task).jsonl")
        }
        return (kept, stats)
    }
}

/// Pseudo-samples made for one new task from one earlier task (or from `__gen__`).
public struct SampleStatistics: Codable, Sendable {
    public var forTask: String
    public var of: String
    public var generated: Int
    public var kept: Int
    public var discarded: [String: Int] = [:]
    public var duplicates = 0
    /// Sum of kept lengths, in tokens (mean = totalLength / kept).
    public var totalLength = 0

    /// "kept 2 of 16 (discarded: no_ans 14)" — a run's log shows it, because a model that rarely
    /// writes a well-formed sample (L2KD's learner on intents) replays far less than γ says.
    public var summary: String {
        "kept \(kept) of \(generated)" + (discarded.isEmpty ? "" : " (discarded: \(discardReasons))")
    }

    /// "no_ans 14, several_ans 1": each reason and its count, in name order.
    public var discardReasons: String {
        discarded.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    init(forTask: String, of: String, generated: Int, kept: Int) {
        self.forTask = forTask; self.of = of; self.generated = generated; self.kept = kept
    }

    enum CodingKeys: String, CodingKey {
        case forTask = "for_task", of, generated, kept, discarded, duplicates
        case totalLength = "total_length"
    }
}

extension LAMOL {
    /// `method: {name: lamol | replay, prompting: task | gen, sample_ratio, top_k, real_replay,
    /// require_answer, max_sample_length}`. `replay` is LAMOL with `real_replay: true`.
    public struct Config: MethodConfig, Equatable {
        public var name = "lamol"
        public var prompting = Prompting.task
        public var sampleRatio = 0.2
        public var topK = 20
        public var realReplay = false
        public var requireAnswer = false
        public var maxSampleLength = 256

        enum CodingKeys: String, CodingKey {
            case name, prompting, sampleRatio = "sample_ratio", topK = "top_k", realReplay = "real_replay"
            case requireAnswer = "require_answer", maxSampleLength = "max_sample_length"
        }

        public init() {}

        public init(name: String, section s: ConfigSection) throws {
            self.name = name
            try read(s)
            if name == "replay" { realReplay = true }
        }

        /// Reads LAMOL's keys (L2KD's section has them too).
        mutating func read(_ s: ConfigSection) throws {
            prompting = try s.choice("prompting", Prompting.self, allowed: [.task, .generic]) ?? prompting
            sampleRatio = try s.double("sample_ratio", in: 0...100) ?? sampleRatio
            topK = try s.int("top_k", in: 1...1_000_000) ?? topK
            realReplay = try s.bool("real_replay") ?? realReplay
            requireAnswer = try s.bool("require_answer") ?? requireAnswer
            maxSampleLength = try s.int("max_sample_length", in: 2...100_000) ?? maxSampleLength
        }

        public var method: LAMOL {
            LAMOL(prompting: prompting, sampleRatio: sampleRatio, topK: topK, realReplay: realReplay,
                  maxSampleLength: maxSampleLength, requireAnswer: requireAnswer)
        }
        public func makeMethod() -> any LifelongMethod { method }
    }
}
