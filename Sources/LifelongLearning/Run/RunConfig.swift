import Foundation
import LifelongFormats
import Yams

/// A run described in YAML. Every key is checked: an unknown or mistyped key, a value of the wrong
/// type or out of range is an error naming it.
///
/// ```yaml
/// name: intents-lamol          # output goes to runs/<name>/
/// seed: 1
/// model: smollm2-135m          # a cache name, a GGUF file, a Hugging Face directory, or "scratch"
/// scratch: {architecture: gpt2, hidden: 128, layers: 4, heads: 4, positions: 256}   # only for model: scratch
/// stream: intents              # a built-in stream, or a list of sources / task directories
/// data: ../shared/data
/// subsample: {train: 150, test: 100}
/// method: {name: lamol, prompting: task, sample_ratio: 0.2, top_k: 20}   # the keys depend on the method
/// training: {learning_rate: 6.25e-5, epochs: 3, tokens_per_batch: 2048, lm_weight: 0.25, answer_weight: 5, max_length: 512}
/// evaluation: {decoding: greedy, batch_size: 64, top_k: 20,
///              few_shot: {tasks: [sst, agnews, trec, clinc150:banking], shots: 5, examples: 100}}
/// checkpoint_every: 200        # optimiser steps between checkpoints inside a task (default: after each task only)
/// ```
///
/// The keys of `training`, `scratch` and `evaluation` (type, range, default, meaning) are their
/// tables below, `trainingKeys`, `scratchKeys`, `evaluationKeys` (the reference: docs/config.md). The method section's keys are
/// its config's (`MethodRegistry`): `lamol` / `replay`
/// (`LAMOL.Config`), `ewc` (`ewc_lambda`, `fisher_examples`), `multitask` (`lm_loss`), `finetune`,
/// `l2kd` (LAMOL's keys plus `variant`, `temperature`, `teacher`).
public struct RunConfig: Encodable, Sendable {
    public var name = "run"
    public var seed: UInt64 = 1
    public var model = "smollm2-135m"
    public var scratch = ScratchModel()
    public var stream: [String] = ["tiny"]
    public var data: String?
    public var subsampleTrain: Int?
    public var subsampleTest: Int?
    public var method: any MethodConfig = LAMOL.Config()
    /// Optimiser steps between checkpoints inside a task (nil: after each task only).
    public var checkpointEvery: Int?
    public var training = TrainingSettings()
    public var evaluation = Evaluation()

    public struct ScratchModel: Codable, Sendable, Equatable {
        public var architecture = "gpt2", hidden = 128, layers = 4, heads = 4, positions = 256
    }

    public struct Evaluation: Encodable, Sendable, Equatable {
        public enum Decoding: String, Codable, Sendable { case greedy, topK = "top_k" }
        public var decoding = Decoding.greedy
        public var batchSize = 64
        /// k of `decoding: top_k`.
        public var topK = 20
        /// Few-shot rank classification before and after the stream (nil: none).
        public var fewShot: FewShot?

        /// The table's keys, then `few_shot` when there is one.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: ConfigKeyName.self)
            try RunConfig.evaluationKeys.encode(self, into: &c)
            try c.encodeIfPresent(fewShot, forKey: ConfigKeyName("few_shot"))
        }
    }

    /// `evaluation.few_shot`: the data sources scored by `FewShotEvaluator`.
    public struct FewShot: Codable, Sendable, Equatable {
        public var tasks: [String] = []
        public var shots = 5
        public var examples = 100
    }

    /// The method's name as the config gives it.
    public var methodName: String { method.name }

    public init() {}

    /// Parses YAML text, then applies `key.path=value` overrides (values are YAML scalars).
    public init(yaml text: String, overrides: [String] = [], source: String) throws {
        guard let root = try YAMLText.load(text, source: source) as? [String: Any] else { throw FormatError(file: source, "the config must be a YAML mapping") }
        var tree = root
        var overridden: Set<String> = []
        for override in overrides {
            guard let equals = override.firstIndex(of: "="), equals != override.startIndex else {
                throw FormatError(file: "--set \(override)", "expected key=value")
            }
            let path = override[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !path.contains(where: \.isEmpty) else { throw FormatError(file: "--set \(override)", "the key path has an empty part") }
            overridden.insert(path.joined(separator: "."))
            let value = try YAMLText.load(String(override[override.index(after: equals)...]), source: "--set \(override)") ?? ""
            tree = Self.setting(tree, path[...], value)
        }
        // `--set method.name=other` switches the file's method section to another method: the file's
        // method keys the other method does not know are dropped (LAMOL's keys stay for L2KD, go for
        // fine-tuning); keys given with --set are always checked.
        let fileMethod = root["method"] as? [String: Any]
        let switched = overridden.contains("method.name") && (fileMethod?["name"] as? String ?? "lamol") != ((tree["method"] as? [String: Any])?["name"] as? String)
        let lenient = switched ? Set((fileMethod ?? [:]).keys.filter { !overridden.contains("method.\($0)") }) : []
        do { try apply(ConfigSection(tree, prefix: "", source: source), lenientMethodKeys: lenient) } catch let error as FormatError {
            // A value given as an override is named as such: the file does not hold it.
            if let override = overrides.first(where: { o in overridden.contains { error.message.contains("'\($0)'") && o.hasPrefix($0 + "=") } }) {
                throw FormatError(file: "\(source) (set: \(override))", error.message)
            }
            throw error
        }
    }

    private static func setting(_ tree: [String: Any], _ path: ArraySlice<String>, _ value: Any) -> [String: Any] {
        var copy = tree
        guard let key = path.first else { return copy }
        copy[key] = path.count == 1 ? value : setting(tree[key] as? [String: Any] ?? [:], path.dropFirst(), value)
        return copy
    }

    private mutating func apply(_ top: ConfigSection, lenientMethodKeys: Set<String>) throws {
        name = try top.string("name") ?? name
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."), !name.contains("\0") else {
            throw top.error("name", "'\(name)' must be a plain directory name")
        }
        seed = UInt64(try top.int("seed", in: 0...Int(Int32.max)) ?? Int(seed))
        model = try top.string("model") ?? model
        checkpointEvery = try top.int("checkpoint_every", in: 1...100_000_000)
        if let s = try top.section("scratch") { try readScratch(s) }
        try readStream(top)
        data = try top.string("data")
        if let s = try top.section("subsample") {
            subsampleTrain = try s.int("train", in: 1...100_000_000)
            subsampleTest = try s.int("test", in: 1...100_000_000)
            try s.finish()
        }
        let m = try top.section("method") ?? ConfigSection([:], prefix: "method.", source: top.source)
        method = try MethodRegistry.config(named: try m.string("name") ?? "lamol", section: m, ignoring: lenientMethodKeys)
        if let t = try top.section("training") { try readTraining(t) }
        if let e = try top.section("evaluation") {
            try Self.evaluationKeys.readKeys(e, into: &evaluation)
            if let f = try e.section("few_shot") {
                var fewShot = FewShot()
                fewShot.tasks = try f.strings("tasks") ?? []
                guard !fewShot.tasks.isEmpty else { throw f.error("tasks", "must list the data sources to score (e.g. [sst, agnews])") }
                fewShot.shots = try f.int("shots", in: 0...64) ?? fewShot.shots
                fewShot.examples = try f.int("examples", in: 1...100_000) ?? fewShot.examples
                try f.finish()
                evaluation.fewShot = fewShot
            }
            try e.finish()
        }
        try top.finish()
    }

    private mutating func readScratch(_ s: ConfigSection) throws { try Self.scratchKeys.read(s, into: &scratch) }

    private mutating func readStream(_ top: ConfigSection) throws {
        if let list = top.values["stream"] as? [Any] {
            _ = try? top.string("stream")  // marks the key as read
            stream = try list.enumerated().map { i, v in
                guard let s = v as? String, !s.isEmpty else { throw top.error("stream[\(i)]", "must be a non-empty string") }
                return s
            }
            guard !stream.isEmpty else { throw top.error("stream", "must name at least one task") }
        } else if let single = try top.string("stream") {
            guard !single.isEmpty else { throw top.error("stream", "must name at least one task") }
            stream = [single]
        }
    }

    private mutating func readTraining(_ t: ConfigSection) throws { try Self.trainingKeys.read(t, into: &training) }

    /// `training:` — the optimisation of every stage (a teacher's too, unless `method.teacher` says otherwise).
    static let trainingKeys = ConfigKeys<TrainingSettings>(section: "training", keys: [
        .number("learning_rate", \.learningRate, in: 1e-12...10, "AdamW's peak learning rate"),
        .number("weight_decay", \.weightDecay, in: 0...10, "AdamW's decoupled weight decay (matrices only)"),
        .number("max_gradient_norm", \.maxGradientNorm, in: 1e-9...1e9, "the global gradient norm is clipped to this"),
        .integer("epochs", \.epochs, in: 1...10_000, "passes over each stage's items"),
        .integer("tokens_per_batch", \.tokensPerBatch, in: 1...100_000_000, "padded tokens per batch (batch size × longest sequence)"),
        .number("warmup_fraction", \.warmupFraction, in: 0...1, "share of a stage's steps warming the learning rate up, then linear decay to 0"),
        .number("lm_weight", \.lmWeight, in: 0...1e6, "λ, the weight of LAMOL's LM loss beside the QA loss"),
        .number("answer_weight", \.answerWeight, in: 0...1e6, "the weight of the ANS target inside the LM loss"),
        .integer("max_length", \.maxLength, in: 4...1_048_576, "longest training sequence (contexts are cut from the left)"),
        .integer("gradient_accumulation", \.gradientAccumulation, in: 1...100_000, "batches summed into one optimiser step"),
    ])

    /// `scratch:` — the model of `model: scratch`, trained from zero with a byte-level tokenizer.
    static let scratchKeys = ConfigKeys<ScratchModel>(section: "scratch", keys: [
        .string("architecture", \.architecture, "the model family (gpt2, llama, qwen2)"),
        .integer("hidden", \.hidden, in: 1...16384, "hidden size"),
        .integer("layers", \.layers, in: 1...256, "transformer blocks"),
        .integer("heads", \.heads, in: 1...256, "attention heads"),
        .integer("positions", \.positions, in: 1...1_048_576, "maximum positions"),
    ])

    /// `evaluation:` — how answers are decoded (every key may change on a trained run with
    /// `lifelong evaluate`); `few_shot: {tasks, shots, examples}` is read beside them.
    static let evaluationKeys = ConfigKeys<Evaluation>(section: "evaluation", keys: [
        .choice("decoding", \.decoding, allowed: [.greedy, .topK], "greedy decoding, or sampling from the top k"),
        .integer("batch_size", \.batchSize, in: 1...4096, "sequences decoded together"),
        .integer("top_k", \.topK, in: 1...1_000_000, "k of decoding: top_k"),
    ])

    /// The key reference of the sections with a key table, as a Markdown table (`docs/config.md`).
    public static var keyReference: String {
        let rows = trainingKeys.reference(defaults: TrainingSettings()) + scratchKeys.reference(defaults: ScratchModel())
            + evaluationKeys.reference(defaults: Evaluation())
        return "| key | type | default | meaning |\n|---|---|---|---|\n" + rows.map { "| " + $0.joined(separator: " | ") + " |\n" }.joined()
    }

    enum CodingKeys: String, CodingKey {
        case name, seed, model, scratch, stream, data, subsample, method, training, evaluation
        case checkpointEvery = "checkpoint_every"
    }

    private struct Subsample: Encodable { var train: Int?, test: Int? }

    /// A section written back from its key table.
    private struct Section<Settings>: Encodable {
        let keys: ConfigKeys<Settings>, settings: Settings
        func encode(to encoder: Encoder) throws { try keys.encode(settings, to: encoder) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name); try c.encode(seed, forKey: .seed); try c.encode(model, forKey: .model)
        if model == "scratch" { try c.encode(Section(keys: Self.scratchKeys, settings: scratch), forKey: .scratch) }
        try c.encode(stream, forKey: .stream)
        try c.encodeIfPresent(data, forKey: .data)
        if subsampleTrain != nil || subsampleTest != nil { try c.encode(Subsample(train: subsampleTrain, test: subsampleTest), forKey: .subsample) }
        try method.encode(to: c.superEncoder(forKey: .method))
        try c.encode(Section(keys: Self.trainingKeys, settings: training), forKey: .training)
        try c.encode(evaluation, forKey: .evaluation)
        try c.encodeIfPresent(checkpointEvery, forKey: .checkpointEvery)
    }

    /// The resolved configuration as YAML (saved as `config.yaml` in the run directory).
    public var yaml: String {
        get throws { try YAMLEncoder().encode(self) }
    }

    /// The first key whose resolved value differs between the two configs (nil: they are equal),
    /// e.g. `method.sample_ratio: 0.2 → 0.5`.
    public func difference(from other: RunConfig) throws -> String? {
        try differences(from: other).first.map { "\($0.key): \($0.old) → \($0.new)" }
    }

    /// The first key that differs from the config `other` trained with and that only evaluation
    /// may change without making a different run: `evaluation.{decoding, batch_size, top_k}` and
    /// the method's own `evaluationKeys` (nil: the two differ in nothing else).
    public func trainingDifference(from other: RunConfig) throws -> String? {
        let free = Set(Self.evaluationKeys.names).union(type(of: method).evaluationKeys.map { "method.\($0)" })
        return try differences(from: other).first { !free.contains($0.key) }.map { "\($0.key): \($0.old) → \($0.new)" }
    }

    private func differences(from other: RunConfig) throws -> [(key: String, old: String, new: String)] {
        let mine = flattenYAML(try Yams.load(yaml: try yaml)), theirs = flattenYAML(try Yams.load(yaml: try other.yaml))
        return Set(mine.keys).union(theirs.keys).sorted().filter { mine[$0] != theirs[$0] }
            .map { ($0, theirs[$0] ?? "(absent)", mine[$0] ?? "(absent)") }
    }
}

/// A Float as the Double with the same shortest decimal form (0.001, not 0.0010000000474974513),
/// so that a written config reads as it was typed.
func yamlNumber(_ value: Float) -> Double { Double(value.description) ?? Double(value) }
