import Foundation
import LifelongFormats

/// A model named by a path (a GGUF file, a Hugging Face directory, a sentence-transformers
/// directory) or by the name of a pulled model, resolved once: a pulled model's files are checked
/// against their pinned sha256 here. What a Swift program (or the CLI's `--model`) loads a model
/// through.
public struct ModelSource {
    public enum Kind: Sendable { case decoder, encoder, unknown }

    /// The name or path as given.
    public let name: String
    /// The file or directory it resolved to.
    public let path: String

    public init(_ name: String, cache: ModelCache = ModelCache()) throws {
        self.name = name
        if FileManager.default.fileExists(atPath: name) {
            path = name
        } else if let cached = try cache.verifiedPath(of: name) {
            path = cached
        } else if ModelCache.known(name) != nil {
            throw RequestError("model '\(name)' is not pulled yet: run `lifelong models pull \(name)`")
        } else {
            throw RequestError("--model '\(name)' is neither a file, a directory nor a known model name")
        }
    }

    /// What the path holds, from its name and `config.json`, so that the wrong kind of model is
    /// refused naming the command that takes it instead of failing on a missing file.
    public var kind: Kind {
        if path.hasSuffix(".gguf") { return .decoder }
        let config = (path as NSString).appendingPathComponent("config.json")
        let json = (try? UserFile.data(config)).flatMap { try? StrictJSON.object($0, file: config) as? [String: Any] }
        let type = json?["model_type"] as? String ?? ""
        if DecoderFamilies.named(type) != nil || type == "mixtral" { return .decoder }
        if type == "bert" || FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("modules.json")) {
            return .encoder
        }
        return .unknown
    }

    /// The decoder's byte-level BPE tokenizer: from the GGUF file, `tokenizer.json`, or GPT-2's
    /// `vocab.json` + `merges.txt`.
    public func tokenizer() throws -> ByteLevelBPETokenizer {
        try requireDecoder()
        if path.hasSuffix(".gguf") { return try ByteLevelBPETokenizer.gguf(GGUFFile(path: path)) }
        let json = (path as NSString).appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: json) { return try ByteLevelBPETokenizer.huggingFace(tokenizerJSON: json) }
        return try ByteLevelBPETokenizer.gpt2(vocabJSON: (path as NSString).appendingPathComponent("vocab.json"),
                                              mergesTXT: (path as NSString).appendingPathComponent("merges.txt"))
    }

    /// The tokens that end a text: the tokenizer's own (a GGUF file, GPT-2's files), else the
    /// `eos_token_id` (one id or a list) of a Hugging Face directory's `generation_config.json` or
    /// `config.json` — a `tokenizer.json` does not say which token ends a text. Ids outside the
    /// vocabulary are an error naming the file.
    public func endOfTextTokens(_ tokenizer: ByteLevelBPETokenizer) throws -> Set<Int> {
        if let eos = tokenizer.eosToken { return [eos] }
        for name in ["generation_config.json", "config.json"] {
            let file = (path as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: file),
                  let value = (try StrictJSON.object(try UserFile.data(file), file: file) as? [String: Any])?["eos_token_id"] else { continue }
            let ids = (value as? [Any] ?? [value]).map(JSONFields.integer)
            guard !ids.isEmpty, ids.allSatisfy({ $0.map { (0..<tokenizer.vocabularySize).contains($0) } ?? false }) else {
                throw FormatError(file: file, "eos_token_id must be a token id (or a list of them) below \(tokenizer.vocabularySize), not \(value)")
            }
            return Set(ids.compactMap { $0 })
        }
        return []
    }

    /// The decoder. `keepQuantized`: a GGUF file's Q4_0/Q4_1/Q8_0 matrices are also kept as they
    /// are, for inference (such a model refuses to train).
    public func decoder(keepQuantized: Bool = false) throws -> DecoderLM {
        try requireDecoder()
        return path.hasSuffix(".gguf") ? try DecoderLM(gguf: path, keepQuantized: keepQuantized) : try DecoderLM(huggingFaceDirectory: path)
    }

    /// The decoder and its tokenizer, checked against each other: every id the tokenizer can
    /// produce must have a row in the model's embedding.
    public func decoderAndTokenizer(keepQuantized: Bool = false) throws -> (DecoderLM, ByteLevelBPETokenizer) {
        let tokenizer = try tokenizer()
        let decoder = try decoder(keepQuantized: keepQuantized)
        guard tokenizer.vocabularySize <= decoder.config.vocabSize else {
            throw FormatError(file: path, "the tokenizer has \(tokenizer.vocabularySize) tokens; the model's vocabulary only \(decoder.config.vocabSize)")
        }
        return (decoder, tokenizer)
    }

    /// The sentence encoder (BERT, sentence-transformers' mean pooling).
    public func sentenceEncoder() throws -> SentenceEncoder {
        if kind == .decoder {
            throw RequestError("'\(name)' is a decoder (a language model), not a sentence encoder: use `lifelong generate --model \(name)`")
        }
        return try SentenceEncoder(directory: path)
    }

    private func requireDecoder() throws {
        if kind == .encoder {
            throw RequestError("'\(name)' is a sentence encoder (BERT), not a decoder: use `lifelong embed --model \(name)`")
        }
    }

    /// The weights file a model named `name` starts from and its sha256, for a run's provenance:
    /// for a pulled model the pinned sha256 (resolving it has checked the file against it),
    /// otherwise computed.
    public static func weightsFile(of name: String, cache: ModelCache = ModelCache()) throws -> (path: String, sha256: String?) {
        if !FileManager.default.fileExists(atPath: name), let known = ModelCache.known(name), let path = cache.weightsPath(of: known) {
            return (path, known.weightsSHA256)  // the resolution order: a path first, then a pulled name
        }
        let path = try ModelSource(name, cache: cache).path
        let weights = path.hasSuffix(".gguf") ? path : (path as NSString).appendingPathComponent("model.safetensors")
        return (weights, FileManager.default.fileExists(atPath: weights) ? try FileDigest.sha256(ofFile: weights) : nil)
    }
}
