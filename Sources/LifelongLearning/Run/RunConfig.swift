import Foundation
import LifelongFormats
import Yams

/// A run described in YAML. Every key is checked: an unknown or mistyped key is an error naming it.
///
/// ```yaml
/// name: intents-lamol          # output goes to runs/<name>/
/// seed: 1
/// model: smollm2-135m          # a cache name, a GGUF file, a Hugging Face directory, or "scratch"
/// scratch: {architecture: gpt2, hidden: 128, layers: 4, heads: 4, positions: 256}   # only for model: scratch
/// stream: intents              # a built-in stream, or a list of sources / task directories
/// data: ../shared/data
/// subsample: {train: 150, test: 100}
/// method: {name: lamol, prompting: task, sample_ratio: 0.2, top_k: 20, real_replay: false, require_answer: false,
///          lm_loss: true, ewc_lambda: 5000}
/// training: {learning_rate: 6.25e-5, epochs: 3, tokens_per_batch: 2048, lm_weight: 0.25, answer_weight: 5, max_length: 512}
/// evaluation: {decoding: greedy, batch_size: 64}
/// checkpoint_every: 200        # optimiser steps between checkpoints inside a task (default: after each task only)
/// ```
public struct RunConfig: Sendable {
    public var name = "run"
    public var seed: UInt64 = 1
    public var model = "smollm2-135m"
    public var scratch = ScratchModel()
    public var stream: [String] = ["tiny"]
    public var data: String?
    public var subsampleTrain: Int?
    public var subsampleTest: Int?
    public var method = "lamol"
    public var prompting = LAMOL.Prompting.task
    public var sampleRatio = 0.2
    public var topK = 20
    public var realReplay = false
    public var requireAnswer = false
    /// Optimiser steps between checkpoints inside a task (nil: after each task only).
    public var checkpointEvery: Int?
    public var multitaskLMLoss = false
    public var ewcStrength: Float = 5000
    public var training = TrainingSettings()
    public var decoding = "greedy"
    public var evaluationBatchSize = 64

    public struct ScratchModel: Sendable {
        public var architecture = "gpt2", hidden = 128, layers = 4, heads = 4, positions = 256
    }

    public static let methods = ["finetune", "multitask", "lamol", "replay", "ewc"]

    public init() {}

    /// Parses YAML text, then applies `key.path=value` overrides (values are YAML scalars).
    public init(yaml text: String, overrides: [String] = [], source: String) throws {
        guard let root = try Yams.load(yaml: text) as? [String: Any] else { throw FormatError(file: source, "the config must be a YAML mapping") }
        var tree = root
        for override in overrides {
            guard let equals = override.firstIndex(of: "=") else { throw FormatError(file: "--set \(override)", "expected key=value") }
            let path = override[..<equals].split(separator: ".").map(String.init)
            let value = try Yams.load(yaml: String(override[override.index(after: equals)...])) ?? ""
            tree = Self.setting(tree, path[...], value)
        }
        try apply(tree, source: source)
    }

    private static func setting(_ tree: [String: Any], _ path: ArraySlice<String>, _ value: Any) -> [String: Any] {
        var copy = tree
        guard let key = path.first else { return copy }
        copy[key] = path.count == 1 ? value : setting(tree[key] as? [String: Any] ?? [:], path.dropFirst(), value)
        return copy
    }

    private mutating func apply(_ tree: [String: Any], source: String) throws {
        let reader = Reader(source: source)
        try reader.keys(tree, allowed: ["name", "seed", "model", "scratch", "stream", "data", "subsample", "method", "training", "evaluation",
                                        "checkpoint_every"], at: "")
        name = try reader.string(tree, "name") ?? name
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else { throw FormatError(file: source, "name '\(name)' must be a plain directory name") }
        seed = UInt64(try reader.int(tree, "seed") ?? Int(seed))
        model = try reader.string(tree, "model") ?? model
        checkpointEvery = try reader.int(tree, "checkpoint_every")
        if let every = checkpointEvery, every < 1 { throw FormatError(file: source, "checkpoint_every must be at least 1") }
        if let s = try reader.map(tree, "scratch") {
            try reader.keys(s, allowed: ["architecture", "hidden", "layers", "heads", "positions"], at: "scratch.")
            scratch.architecture = try reader.string(s, "architecture", at: "scratch.") ?? scratch.architecture
            scratch.hidden = try reader.int(s, "hidden", at: "scratch.") ?? scratch.hidden
            scratch.layers = try reader.int(s, "layers", at: "scratch.") ?? scratch.layers
            scratch.heads = try reader.int(s, "heads", at: "scratch.") ?? scratch.heads
            scratch.positions = try reader.int(s, "positions", at: "scratch.") ?? scratch.positions
        }
        if let list = tree["stream"] as? [Any] {
            stream = try list.enumerated().map { i, v in
                guard let s = v as? String else { throw FormatError(file: source, "stream[\(i)] must be a string") }
                return s
            }
        } else if let single = try reader.string(tree, "stream") {
            stream = [single]
        }
        data = try reader.string(tree, "data")
        if let s = try reader.map(tree, "subsample") {
            try reader.keys(s, allowed: ["train", "test"], at: "subsample.")
            subsampleTrain = try reader.int(s, "train", at: "subsample.")
            subsampleTest = try reader.int(s, "test", at: "subsample.")
        }
        if let m = try reader.map(tree, "method") {
            try reader.keys(m, allowed: ["name", "prompting", "sample_ratio", "top_k", "real_replay", "require_answer", "lm_loss", "ewc_lambda"], at: "method.")
            ewcStrength = Float(try reader.double(m, "ewc_lambda", at: "method.") ?? Double(ewcStrength))
            method = try reader.string(m, "name", at: "method.") ?? method
            guard Self.methods.contains(method) else {
                throw FormatError(file: source, "method.name '\(method)' is not one of \(Self.methods.joined(separator: ", "))")
            }
            if let p = try reader.string(m, "prompting", at: "method.") {
                guard let parsed = LAMOL.Prompting(rawValue: p) else { throw FormatError(file: source, "method.prompting must be 'task' or 'gen'") }
                prompting = parsed
            }
            sampleRatio = try reader.double(m, "sample_ratio", at: "method.") ?? sampleRatio
            topK = try reader.int(m, "top_k", at: "method.") ?? topK
            realReplay = try reader.bool(m, "real_replay", at: "method.") ?? realReplay
            requireAnswer = try reader.bool(m, "require_answer", at: "method.") ?? requireAnswer
            multitaskLMLoss = try reader.bool(m, "lm_loss", at: "method.") ?? multitaskLMLoss
        }
        if let t = try reader.map(tree, "training") {
            let keys = ["learning_rate", "weight_decay", "max_gradient_norm", "epochs", "tokens_per_batch", "warmup_fraction",
                        "lm_weight", "answer_weight", "max_length", "gradient_accumulation"]
            try reader.keys(t, allowed: keys, at: "training.")
            func f(_ k: String, _ v: Float) throws -> Float { Float(try reader.double(t, k, at: "training.") ?? Double(v)) }
            training.learningRate = try f("learning_rate", training.learningRate)
            training.weightDecay = try f("weight_decay", training.weightDecay)
            training.maxGradientNorm = try f("max_gradient_norm", training.maxGradientNorm)
            training.warmupFraction = try f("warmup_fraction", training.warmupFraction)
            training.lmWeight = try f("lm_weight", training.lmWeight)
            training.answerWeight = try f("answer_weight", training.answerWeight)
            training.epochs = try reader.int(t, "epochs", at: "training.") ?? training.epochs
            training.tokensPerBatch = try reader.int(t, "tokens_per_batch", at: "training.") ?? training.tokensPerBatch
            training.maxLength = try reader.int(t, "max_length", at: "training.") ?? training.maxLength
            training.gradientAccumulation = try reader.int(t, "gradient_accumulation", at: "training.") ?? training.gradientAccumulation
        }
        if let e = try reader.map(tree, "evaluation") {
            try reader.keys(e, allowed: ["decoding", "batch_size"], at: "evaluation.")
            decoding = try reader.string(e, "decoding", at: "evaluation.") ?? decoding
            guard ["greedy", "top_k"].contains(decoding) else { throw FormatError(file: source, "evaluation.decoding must be 'greedy' or 'top_k'") }
            evaluationBatchSize = try reader.int(e, "batch_size", at: "evaluation.") ?? evaluationBatchSize
        }
        for (key, value) in [("training.epochs", training.epochs), ("training.tokens_per_batch", training.tokensPerBatch),
                             ("training.max_length", training.maxLength), ("evaluation.batch_size", evaluationBatchSize),
                             ("training.gradient_accumulation", training.gradientAccumulation)] where value < 1 {
            throw FormatError(file: source, "\(key) must be at least 1")
        }
        guard sampleRatio >= 0 else { throw FormatError(file: source, "method.sample_ratio must not be negative") }
    }

    /// The resolved configuration as YAML (saved as `config.yaml` in the run directory).
    public var yaml: String {
        """
        name: \(name)
        seed: \(seed)
        model: \(model)
        scratch: {architecture: \(scratch.architecture), hidden: \(scratch.hidden), layers: \(scratch.layers), heads: \(scratch.heads), positions: \(scratch.positions)}
        stream: [\(stream.map { "\"\($0)\"" }.joined(separator: ", "))]
        data: \(data ?? "null")
        subsample: {train: \(subsampleTrain.map(String.init) ?? "null"), test: \(subsampleTest.map(String.init) ?? "null")}
        method: {name: \(method), prompting: \(prompting.rawValue), sample_ratio: \(sampleRatio), top_k: \(topK), real_replay: \(realReplay), require_answer: \(requireAnswer), lm_loss: \(multitaskLMLoss), ewc_lambda: \(ewcStrength)}
        training: {learning_rate: \(training.learningRate), weight_decay: \(training.weightDecay), max_gradient_norm: \(training.maxGradientNorm), epochs: \(training.epochs), tokens_per_batch: \(training.tokensPerBatch), warmup_fraction: \(training.warmupFraction), lm_weight: \(training.lmWeight), answer_weight: \(training.answerWeight), max_length: \(training.maxLength), gradient_accumulation: \(training.gradientAccumulation)}
        evaluation: {decoding: \(decoding), batch_size: \(evaluationBatchSize)}
        checkpoint_every: \(checkpointEvery.map(String.init) ?? "null")

        """
    }
}

/// Typed access to a YAML mapping, with errors that name the key.
private struct Reader {
    let source: String

    func keys(_ map: [String: Any], allowed: [String], at prefix: String) throws {
        for key in map.keys.sorted() where !allowed.contains(key) {
            throw FormatError(file: source, "unknown key '\(prefix)\(key)' (allowed: \(allowed.joined(separator: ", ")))")
        }
    }
    func fail(_ key: String, _ prefix: String, _ kind: String) -> FormatError { FormatError(file: source, "'\(prefix)\(key)' must be \(kind)") }
    func string(_ m: [String: Any], _ k: String, at p: String = "") throws -> String? {
        guard let v = m[k], !(v is NSNull) else { return nil }
        if let s = v as? String { return s }
        throw fail(k, p, "a string")
    }
    func int(_ m: [String: Any], _ k: String, at p: String = "") throws -> Int? {
        guard let v = m[k], !(v is NSNull) else { return nil }
        if let i = v as? Int { return i }
        throw fail(k, p, "an integer")
    }
    func double(_ m: [String: Any], _ k: String, at p: String = "") throws -> Double? {
        guard let v = m[k], !(v is NSNull) else { return nil }
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        throw fail(k, p, "a number")
    }
    func bool(_ m: [String: Any], _ k: String, at p: String = "") throws -> Bool? {
        guard let v = m[k], !(v is NSNull) else { return nil }
        if let b = v as? Bool { return b }
        throw fail(k, p, "true or false")
    }
    func map(_ m: [String: Any], _ k: String) throws -> [String: Any]? {
        guard let v = m[k], !(v is NSNull) else { return nil }
        if let d = v as? [String: Any] { return d }
        throw FormatError(file: source, "'\(k)' must be a mapping")
    }
}
