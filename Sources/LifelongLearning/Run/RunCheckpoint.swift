import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels

/// Where a run stands, so that `lifelong run --resume` can continue it and reach the same results
/// as a run that was never interrupted.
///
/// A checkpoint is a directory `checkpoints/<tag>/` holding
///
/// | file | what |
/// |---|---|
/// | `state.json` | this struct |
/// | `model.safetensors` | the weights (absent before any training: the initial model is rebuilt from the config) |
/// | `optimizer.safetensors` | AdamW's moments `m.<parameter>` / `v.<parameter>` (mid-stage only) |
/// | `method.safetensors` | tensors a method carries from task to task (EWC's anchor and importance) |
/// | `items.json` | the stage's training items (mid-stage only, so pseudo-samples are not generated again) |
///
/// `checkpoints/latest` names the newest complete directory. It is replaced atomically only after
/// that directory is complete, so a crash at any moment leaves a usable checkpoint.
public struct RunState: Codable, Sendable {
    /// The stage in progress (the number of stages when the run is over).
    public var stage = 0
    /// Optimiser steps of `stage` already taken.
    public var stepsDone = 0
    /// Training of `stage` is complete; its evaluation is not.
    public var stageTrained = false
    /// AdamW's step count t (bias corrections).
    public var optimizerSteps = 0
    public var matrix: [[Double]] = []
    public var baseline: [Double]? = nil
    /// The tokenizer's special tokens, in the order they got their ids.
    public var specialTokens: [String] = []
    /// JSON a method carries across tasks (LAMOL's pseudo-sample statistics).
    public var methodJSON: String? = nil
    public var secondsTraining = 0.0
    public var secondsEvaluating = 0.0
    public var finalPredictions: [String: [[String]]] = [:]
    /// Bytes of `log.jsonl` written up to this point (later lines are dropped on resume).
    public var logBytes = 0
    /// The checkpoint has weights (false before any training).
    public var hasWeights = false
    /// Layers a method replaced (SLM's low-rank mixtures), rebuilt before the weights load.
    public var replacedLayers: [LayerRecord]? = nil
    /// Few-shot accuracies measured so far (before the stream, and after it).
    public var fewShot: FewShotRecord? = nil
    /// Secondary metrics' scores so far (BLEU of generation tasks), by metric.
    public var secondary: [String: SecondaryScores]? = nil

    public init() {}

    enum CodingKeys: String, CodingKey {
        case stage, matrix, baseline
        case stepsDone = "steps_done", stageTrained = "stage_trained", optimizerSteps = "optimizer_steps"
        case specialTokens = "special_tokens", methodJSON = "method_json", secondsTraining = "seconds_training"
        case secondsEvaluating = "seconds_evaluating", finalPredictions = "final_predictions", logBytes = "log_bytes"
        case hasWeights = "has_weights", replacedLayers = "replaced_layers", fewShot = "few_shot", secondary
    }
}

/// What a method saves in a checkpoint besides the model.
public struct MethodState {
    public var tensors: [(name: String, values: [Float])] = []
    public var json: String? = nil
    public init(tensors: [(name: String, values: [Float])] = [], json: String? = nil) {
        self.tensors = tensors; self.json = json
    }
}

/// Reads and writes the checkpoints of one run directory.
public struct RunCheckpoints {
    public let directory: String

    public init(runDirectory: String) {
        directory = (runDirectory as NSString).appendingPathComponent("checkpoints")
    }

    private func path(_ parts: String...) -> String {
        parts.reduce(directory) { ($0 as NSString).appendingPathComponent($1) }
    }

    /// What a search of `checkpoints/` found: the newest complete checkpoint (nil when the run has
    /// none), and the folders that could not be used, each with the reason.
    struct Search {
        var newest: (state: RunState, path: String)?
        var unusable: [(folder: String, problem: String)] = []
        /// Why `latest` was not followed (nil when it was).
        var latestProblem: String?
        /// No checkpoint was ever completed: the run was killed while writing its first one. It
        /// starts again from the beginning, its incomplete folders set aside.
        var nothingCompleted = false
    }

    /// The newest complete checkpoint, or nil when the run has none; an error when there are
    /// checkpoint folders but none of them can be used (each named with its problem).
    public func latest() throws -> (state: RunState, path: String)? {
        try newest().map { ($0.state, $0.path) }
    }

    /// As `latest()`, with a sentence when the checkpoint is not the one `latest` names (a
    /// read-only command says which one it used, and why).
    public func newest() throws -> (state: RunState, path: String, note: String?)? {
        let search = try find()
        guard let (state, path) = search.newest else {
            if let error = noUsableCheckpoint(search) { throw error }
            return nil
        }
        return (state, path, fallbackNote(search))
    }

    /// Which checkpoint a search took when `latest` could not be followed, and why (nil when it was).
    func fallbackNote(_ search: Search) -> String? {
        guard let problem = search.latestProblem, let path = search.newest?.path else { return nil }
        return "checkpoints/latest is not usable (\(problem)); using \((path as NSString).lastPathComponent), the newest checkpoint that verifies"
    }

    /// The error for a search that found checkpoint folders but none to use (nil when it found
    /// none at all: a run stopped before its first checkpoint).
    func noUsableCheckpoint(_ search: Search) -> FormatError? {
        guard !search.nothingCompleted, !search.unusable.isEmpty || search.latestProblem != nil else { return nil }
        let problems = search.unusable.isEmpty ? search.latestProblem ?? "" : search.unusable.map(\.problem).joined(separator: "; ")
        return FormatError(file: directory, "no usable checkpoint (nothing was changed): \(problems)")
    }

    /// Finds the newest complete checkpoint. `latest` names it; when that file is missing,
    /// damaged or names a folder that does not verify, every folder is checked and the most
    /// advanced one that verifies is taken. Reads only: nothing is written or deleted.
    func find() throws -> Search {
        var search = Search()
        guard FileManager.default.fileExists(atPath: directory) else { return search }
        let folders = try checkpointFolders()
        var tried: String?
        do {
            let tag = try UserFile.text(path("latest")).trimmingCharacters(in: .whitespacesAndNewlines)
            guard folders.contains(tag) else { throw FormatError(file: path("latest"), "names '\(tag.prefix(80))', which is not a checkpoint folder") }
            tried = tag
            search.newest = (try open(path(tag), namedByLatest: true), path(tag))
            return search
        } catch let error as FormatError {
            if !FileManager.default.fileExists(atPath: path("latest")) && folders.allSatisfy({
                !FileManager.default.fileExists(atPath: (path($0) as NSString).appendingPathComponent(CheckpointManifest.fileName))
            }) {  // no checkpoint yet, or only the interrupted writing of the first one
                search.nothingCompleted = true
                search.unusable = folders.map { ($0, "has no \(CheckpointManifest.fileName): the writing of the run's first checkpoint was interrupted") }
                return search
            }
            if let tried {
                search.unusable.append((tried, error.description))
                search.latestProblem = "it names \(tried), which is not usable"
            } else {
                search.latestProblem = error.description
            }
        }
        var usable: [(state: RunState, path: String, order: [Int])] = []
        for folder in folders where folder != tried {
            do {
                let state = try open(path(folder), namedByLatest: false)
                usable.append((state, path(folder), Self.progress(state, tag: folder)))
            } catch { search.unusable.append((folder, "\(error)")) }
        }
        if let best = usable.max(by: { $0.order.lexicographicallyPrecedes($1.order) }) { search.newest = (best.state, best.path) }
        return search
    }

    /// For an error about `folder`: the other checkpoints of the run that verify (the newest
    /// first), and how to resume from one, or that there is none.
    func alternatives(to folder: String) -> String {
        let used = (folder as NSString).lastPathComponent
        let others = ((try? checkpointFolders()) ?? []).filter { $0 != used }
            .compactMap { name in (try? open(path(name), namedByLatest: false)).map { (name, Self.progress($0, tag: name)) } }
            .sorted { $1.1.lexicographicallyPrecedes($0.1) }.map(\.0)
        guard let earlier = others.first else { return " (no other checkpoint of this run verifies)" }
        return " (checkpoints/\(earlier) verifies too: move checkpoints/\(used) out of checkpoints/ to resume from it)"
    }

    /// A folder's manifest and `state.json`, checked. A folder without a manifest is accepted
    /// only where `latest` names it (a run written before manifests existed).
    private func open(_ folder: String, namedByLatest: Bool) throws -> RunState {
        if try CheckpointManifest.verify(folder) == nil && !namedByLatest {
            throw FormatError(file: folder, "has no \(CheckpointManifest.fileName): an incomplete checkpoint (the run stopped while writing it)")
        }
        let statePath = (folder as NSString).appendingPathComponent("state.json")
        guard FileManager.default.fileExists(atPath: statePath) else { throw FormatError(file: statePath, "missing") }
        let state = try StrictJSON.decode(RunState.self, from: try UserFile.data(statePath), file: statePath)
        try state.checkConsistency(file: statePath)
        for (name, needed) in [("optimizer.safetensors", state.isMidStage), ("items.json", state.isMidStage), ("model.safetensors", state.hasWeights)]
        where needed && !FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(name)) {
            throw FormatError(file: (folder as NSString).appendingPathComponent(name), "missing: the checkpoint's state.json needs it")
        }
        return state
    }

    /// Checkpoint folders (not `latest`, hidden temporaries or folders set aside as damaged).
    private func checkpointFolders() throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0 != "latest" && !$0.hasPrefix(".") && !$0.hasPrefix(Self.damagedPrefix) }.sorted()
        } catch { throw FormatError.io(file: directory, "cannot list: \(describeFileError(error))") }
    }

    /// Folders a resumed run found unusable are renamed with this prefix: kept for the user to
    /// inspect, never read or removed by the program.
    static let damagedPrefix = "damaged-"

    /// Moves unusable folders aside (`damaged-<tag>`) so that later checkpoints neither use nor delete them.
    func setAside(_ folders: [String]) throws {
        for folder in folders {
            var target = Self.damagedPrefix + folder, copy = 1
            while FileManager.default.fileExists(atPath: path(target)) { target = "\(Self.damagedPrefix)\(folder).\(copy)"; copy += 1 }
            do { try FileManager.default.moveItem(atPath: path(folder), toPath: path(target)) } catch {
                throw FormatError.io(file: path(folder), "cannot set the damaged checkpoint aside: \(describeFileError(error))")
            }
        }
    }

    /// How far a checkpoint is into the run, for choosing the newest: stage, trained, steps, then
    /// the copy number of a tag written again (`stage1-step0.2` after `stage1-step0.1`).
    private static func progress(_ state: RunState, tag: String) -> [Int] {
        let copy = tag.split(separator: ".").last.flatMap { Int($0) } ?? 0
        return [state.stage, state.stageTrained ? 1 : 0, state.stepsDone, copy]
    }

    /// Writes a new checkpoint directory, points `latest` at it, then removes older ones.
    public func save(_ state: RunState, model: DecoderLM?, optimizer: AdamW?, method: MethodState,
                     items: [TrainingItem]?) throws {
        let fm = FileManager.default
        // A new folder every time, even for a tag written before (Ctrl-C during an evaluation, then
        // --resume and Ctrl-C again): the folder `latest` names is never touched until it has a successor.
        let base = "stage\(state.stage)-step\(state.stepsDone)\(state.stageTrained ? "-trained" : "")"
        let existing = Set((try? fm.contentsOfDirectory(atPath: directory)) ?? [])
        var tag = base, copy = 1
        while existing.contains(tag) { tag = "\(base).\(copy)"; copy += 1 }
        let folder = path(tag)
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func file(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        if let model {
            try model.save(to: file("model.safetensors"))
        }
        if let optimizer, let model {
            try Self.writeMoments(of: optimizer, model: model, to: file("optimizer.safetensors"))
        }
        if !method.tensors.isEmpty {
            try SafetensorsFile.write(method.tensors.map { ($0.name, Tensor($0.values, shape: [$0.values.count])) },
                                      to: file("method.safetensors"))
        }
        if let items { try writeAtomically(try JSONEncoder().encode(items), to: file("items.json")) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(state), to: file("state.json"))
        try CheckpointManifest.write(for: folder)
        try writeAtomically(Data(tag.utf8), to: path("latest"))
        for old in (try? fm.contentsOfDirectory(atPath: directory)) ?? []
        where old != tag && old != "latest" && !old.hasPrefix(".") && !old.hasPrefix(Self.damagedPrefix) {
            try? fm.removeItem(atPath: path(old))
        }
    }

    /// Puts the newest checkpoint's special tokens into `tokenizer` and its weights into `model`,
    /// and returns the run state; `note` hears which checkpoint was used when `latest` could not be
    /// followed.
    @discardableResult
    public func restoreLatest(into model: DecoderLM, tokenizer: TaskTokenizer, note: (String) -> Void = { _ in }) throws -> RunState {
        guard let (state, folder, fallback) = try newest() else { throw FormatError(file: directory, "no checkpoint") }
        if let fallback { note(fallback) }
        guard state.hasWeights else { throw FormatError(file: folder, "the run had not trained yet when this checkpoint was written") }
        try restore(model, tokenizer: tokenizer, state: state, from: folder)
        return state
    }

    /// The checkpoint folder `tag` (`stage2-step0-trained`), verified; an error naming the run's
    /// checkpoints when there is no such folder.
    public func checkpoint(named tag: String) throws -> (state: RunState, path: String) {
        let folders = try checkpointFolders()
        guard folders.contains(tag) else {
            throw RequestError("--checkpoint \(tag.prefix(80)): \(directory) has no such checkpoint (it has: \(folders.isEmpty ? "none" : folders.joined(separator: ", ")))")
        }
        return (try open(path(tag), namedByLatest: false), path(tag))
    }

    /// Gives `tokenizer` the checkpoint's special tokens (in their order, so the ids match), grows
    /// `model` to that vocabulary, rebuilds the layers a method replaced, and loads the weights (the new rows' random start is overwritten).
    public func restore(_ model: DecoderLM, tokenizer: TaskTokenizer, state: RunState, from folder: String) throws {
        for name in state.specialTokens { tokenizer.special(name) }
        let missing = tokenizer.vocabularySize - model.config.vocabSize
        if missing > 0 { model.addTokens(missing, seed: 0) }
        try model.install(state.replacedLayers ?? [])
        let file = try SafetensorsFile(path: (folder as NSString).appendingPathComponent("model.safetensors"))
        try TensorCheckpoint(files: [file]).load(into: model.namedParameters, optionalPrefix: "", ignoring: [])
    }

    /// AdamW's moments from `optimizer.safetensors`.
    public func restoreOptimizer(_ optimizer: AdamW, model: DecoderLM, stepCount: Int, from folder: String) throws {
        try Self.readMoments(into: optimizer, model: model, stepCount: stepCount,
                             from: (folder as NSString).appendingPathComponent("optimizer.safetensors"))
    }

    /// AdamW's moments `m.<parameter>` / `v.<parameter>` of every parameter that has them.
    static func writeMoments(of optimizer: AdamW, model: DecoderLM, to path: String) throws {
        var tensors: [(name: String, tensor: Tensor)] = []
        for (name, p) in model.namedParameters {
            guard let moments = optimizer.moments(of: p) else { continue }
            tensors.append(("m.\(name)", Tensor(wrapping: moments.m, shape: p.shape)))
            tensors.append(("v.\(name)", Tensor(wrapping: moments.v, shape: p.shape)))
        }
        try SafetensorsFile.write(tensors, to: path)
    }

    /// Reads only the header of `optimizer.safetensors`: the file is there and each parameter's
    /// moments have its size (before the run directory is written to).
    static func checkMoments(model: DecoderLM, path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw FormatError(file: path, "missing: the checkpoint is inside a stage's training, and AdamW's moments are needed to continue it")
        }
        let file = try SafetensorsFile(path: path)
        for (name, p) in model.namedParameters {
            for moment in ["m.\(name)", "v.\(name)"] {
                guard let entry = file.entry(moment) else { continue }
                guard entry.shape.reduce(1, *) == p.count else {
                    throw FormatError(file: path, "'\(moment)' holds \(entry.shape.reduce(1, *)) values; the parameter has \(p.count)")
                }
            }
        }
    }

    /// Restores the moments `writeMoments` wrote and the step count; the file must be there, with
    /// each parameter's size, finite first moments and non-negative second ones.
    static func readMoments(into optimizer: AdamW, model: DecoderLM, stepCount: Int, from path: String) throws {
        try checkMoments(model: model, path: path)
        var restored: [(Tensor, m: [Float], v: [Float])] = []
        let file = try SafetensorsFile(path: path)
        for (name, p) in model.namedParameters where file.entry("m.\(name)") != nil {
            let (m, v) = (try file.tensor("m.\(name)").scalars, try file.tensor("v.\(name)").scalars)
            guard m.allSatisfy(\.isFinite), v.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw FormatError(file: path, "moments of '\(name)' hold values that are not finite (or a negative second moment)")
            }
            restored.append((p, m, v))
        }
        optimizer.restore(stepCount: stepCount, moments: restored)
    }

    public func methodState(from folder: String, json: String?) throws -> MethodState {
        let path = (folder as NSString).appendingPathComponent("method.safetensors")
        guard FileManager.default.fileExists(atPath: path) else { return MethodState(json: json) }
        let file = try SafetensorsFile(path: path)
        return MethodState(tensors: try file.names.map { ($0, try file.tensor($0).scalars) }, json: json)
    }

    /// The stage's saved training items (nil when the file is absent), each checked: token ids
    /// and targets inside the vocabulary (or ignored), equal lengths, at most
    /// `maxLength` tokens, finite weights.
    public func items(from folder: String, vocabularySize: Int, maxLength: Int) throws -> [TrainingItem]? {
        let path = (folder as NSString).appendingPathComponent("items.json")
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let items = try StrictJSON.decode([TrainingItem].self, from: try UserFile.data(path), file: path)
        for (i, item) in items.enumerated() {
            for (part, sequence) in [("qa", item.qa), ("lm", item.lm)] {
                guard let sequence, let problem = sequence.problem(vocabularySize: vocabularySize, maxLength: maxLength) else { continue }
                throw FormatError(file: path, "item \(i), \(part): \(problem)")
            }
            if let example = item.example, example < 0 { throw FormatError(file: path, "item \(i): example index \(example) is negative") }
        }
        return items
    }

    /// Removes every checkpoint (a fresh run in an old directory).
    public func removeAll() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Thrown when a run stops on request (Ctrl-C) after writing a checkpoint.
public struct RunInterrupted: Error, CustomStringConvertible {
    public let checkpoint: String
    public var description: String { "interrupted; checkpoint written to \(checkpoint)" }
}
