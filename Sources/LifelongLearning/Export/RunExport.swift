import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels

/// A trained run's checkpoint, opened to leave LifelongLM: its model with the layers its method
/// replaced, its tokenizer with the special tokens the run added (task tokens, `__ans__`) at the
/// ids the model learnt them, and the files the run wrote. `write(_:to:)` makes one export format.
///
///     let run = try RunExport(runDirectory: "runs/lamol")
///     try run.write(.huggingFace, to: "exports/lamol-hf")
public struct RunExport {
    public enum Format: String, CaseIterable, Sendable {
        /// A Hugging Face model directory (`from_pretrained`).
        case huggingFace = "hf"
        /// One GGUF file, `model.gguf` (llama.cpp, Ollama, `lifelong generate`).
        case gguf
        /// SLM's slots as PEFT LoRA adapters, and for every method its pseudo-samples and final
        /// predictions as JSONL.
        case peft
    }

    public let runDirectory: String
    public let config: RunConfig
    public let state: RunState
    /// The checkpoint folder the weights come from.
    public let checkpoint: String
    public let model: DecoderLM
    /// The base vocabulary followed by the run's special tokens, as byte-level BPE.
    public let tokenizer: ByteLevelBPETokenizer
    /// The base vocabulary's size: ids from here on are the run's special tokens.
    public let baseVocabularySize: Int
    /// The token that ends every answer and pseudo-sample the run trained on.
    public let endOfExample: Int
    let method: any LifelongMethod

    /// Opens the newest checkpoint of the run (or `checkpoint`, a folder name under `checkpoints/`).
    public init(runDirectory: String, checkpoint tag: String? = nil) throws {
        self.runDirectory = runDirectory
        let configPath = (runDirectory as NSString).appendingPathComponent("config.yaml")
        config = try RunConfig(yaml: try UserFile.text(configPath), source: configPath)
        let checkpoints = RunCheckpoints(runDirectory: runDirectory)
        let found = try tag.map { try checkpoints.checkpoint(named: $0) } ?? checkpoints.latest()
        guard let (state, folder) = found else { throw FormatError(file: checkpoints.directory, "no checkpoint: the run has not trained yet") }
        guard state.hasWeights else { throw FormatError(file: folder, "the run had not trained yet when this checkpoint was written") }
        let (model, base) = try ConfiguredRun.startingModel(of: config)
        let taskTokenizer = TaskTokenizer(base: base)
        try checkpoints.restore(model, tokenizer: taskTokenizer, state: state, from: folder)
        var method = config.method.makeMethod()
        try method.restore(try checkpoints.methodState(from: folder, json: state.methodJSON))
        self.state = state; self.checkpoint = folder; self.model = model; self.method = method
        baseVocabularySize = base.vocabularySize
        tokenizer = try Self.byteLevel(base).adding(checked: taskTokenizer.specialNames, from: base.vocabularySize)
        guard let end = base.endOfTextToken ?? taskTokenizer.specialId("__eos__") else {
            throw FormatError(file: folder, "the run's tokenizer has no end-of-text token")
        }
        endOfExample = end
    }

    /// The base tokenizer as byte-level BPE: itself, or for a scratch model's byte tokenizer the
    /// byte-level BPE without merges that gives the same ids.
    static func byteLevel(_ base: any Tokenizer) throws -> ByteLevelBPETokenizer {
        if let bpe = base as? ByteLevelBPETokenizer { return bpe }
        if base is ByteTokenizer { return try .bytes() }
        throw RequestError("the run's tokenizer (\(type(of: base))) has no export form")
    }

    /// Writes the export of `format` into `directory`, which must not exist (or, with
    /// `overwrite`, must be an earlier export): built beside it and moved into place, so a failure
    /// or a kill leaves no half-written export. Returns notes for the user (what was left out).
    @discardableResult
    public func write(_ format: Format, to directory: String, overwrite: Bool = false, ggufStorage: GGUFWriter.Storage = .f16) throws -> [String] {
        var notes: [String] = []
        try ExportDirectory(path: directory, runDirectory: runDirectory).fill(overwrite: overwrite) { folder in
            switch format {
            case .huggingFace: notes = try writeHuggingFace(into: folder)
            case .gguf: notes = try writeGGUF(into: folder, storage: ggufStorage)
            case .peft: notes = try writePEFT(into: folder)
            }
            try writeProvenance(format, into: folder)
        }
        return notes
    }

    /// `lifelong_export.json`: which run, checkpoint and format this export is, and the tokens a
    /// user needs to prompt the model as the run did. Its presence marks a folder as an export.
    func writeProvenance(_ format: Format, into folder: String) throws {
        let json: [String: Any] = [
            "format": format.rawValue, "run": (runDirectory as NSString).lastPathComponent,
            "checkpoint": (checkpoint as NSString).lastPathComponent, "method": method.name, "model": config.model,
            "special_tokens": Dictionary(uniqueKeysWithValues: state.specialTokens.map { ($0, tokenizer.id(of: $0) ?? -1) }),
            "end_of_example_token_id": endOfExample, "lifelong_version": Provenance.version]
        try ExportDirectory.writeJSON(json, to: (folder as NSString).appendingPathComponent(ExportDirectory.marker))
    }
}

extension ByteLevelBPETokenizer {
    /// This tokenizer with `names` appended as special tokens, each required to land at the id
    /// the run gave it (`start`, `start + 1`, …): a name the base vocabulary already has would
    /// shift the ids and is refused.
    func adding(checked names: [String], from start: Int) throws -> ByteLevelBPETokenizer {
        let grown = adding(specialTokens: names)
        for (offset, name) in names.enumerated() where grown.id(of: name) != start + offset {
            throw RequestError("the run's special token '\(name)' is also a token of the base vocabulary; the export cannot give it the run's id \(start + offset)")
        }
        return grown
    }
}
