import ArgumentParser
import Foundation
import LifelongFormats
import LifelongModels

/// The file or directory a `--model` value designates: a path, or the name of a pulled model.
func resolveModel(_ model: String) throws -> String {
    if FileManager.default.fileExists(atPath: model) { return model }
    if let path = try ModelCache().verifiedPath(of: model) { return path }
    if ModelCache.known(model) != nil {
        throw ValidationError("model '\(model)' is not pulled yet: run `lifelong models pull \(model)`")
    }
    throw ValidationError("--model '\(model)' is neither a file, a directory nor a known model name")
}

/// The weights file a run starts from and its sha256, for the provenance: for a cached model the
/// pinned sha256 (loading it has just checked the file against it), otherwise computed.
func weightsFile(of model: String) throws -> (path: String, sha256: String?) {
    if !FileManager.default.fileExists(atPath: model), let known = ModelCache.known(model), let path = ModelCache().weightsPath(of: known) {
        return (path, known.weightsSHA256)  // resolveModel's order: a path first, then a cached name
    }
    let path = try resolveModel(model)
    let weights = path.hasSuffix(".gguf") ? path : (path as NSString).appendingPathComponent("model.safetensors")
    return (weights, FileManager.default.fileExists(atPath: weights) ? try FileDigest.sha256(ofFile: weights) : nil)
}

/// What a model file or directory holds, read from its name and `config.json`, so that a command
/// given the wrong kind says which command fits instead of failing on a missing file.
enum ModelKind {
    case decoder, encoder, unknown

    init(path: String) {
        if path.hasSuffix(".gguf") { self = .decoder; return }
        let config = (path as NSString).appendingPathComponent("config.json")
        let type = ((try? UserFile.data(config)).flatMap { try? StrictJSON.object($0, file: config) as? [String: Any] })?["model_type"] as? String
        switch type {
        case "gpt2", "llama": self = .decoder
        case "bert": self = .encoder
        default:
            let sentenceTransformers = FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("modules.json"))
            self = sentenceTransformers ? .encoder : .unknown
        }
    }
}

/// `--model` for the decoder commands: a GGUF file, a Hugging Face directory, or a cache name.
struct ModelOption: ParsableArguments {
    @Option(help: "A GGUF file, a Hugging Face model directory, or a cached model name (smollm2-135m).")
    var model: String
    @Flag(help: "Compute in fp32 even when a GGUF file's weights are quantised (by default inference multiplies by the Q4_0/Q4_1/Q8_0 blocks directly: the same weight values, 4–6× fewer bytes per token).")
    var fp32 = false

    func resolvedPath() throws -> String { try resolveModel(model) }

    /// The resolved path of a decoder; an encoder is refused with the command that takes it.
    func decoderPath() throws -> String {
        let path = try resolvedPath()
        if ModelKind(path: path) == .encoder {
            throw ValidationError("'\(model)' is a sentence encoder (BERT), not a decoder: use `lifelong embed --model \(model)`")
        }
        return path
    }

    func loadTokenizer() throws -> ByteLevelBPETokenizer { try loadTokenizer(at: decoderPath()) }

    /// `path` is `decoderPath()`, resolved once per command: for a cached model that checks every
    /// file's sha256, which is not worth doing twice.
    func loadTokenizer(at path: String) throws -> ByteLevelBPETokenizer {
        if path.hasSuffix(".gguf") { return try ByteLevelBPETokenizer.gguf(GGUFFile(path: path)) }
        let json = (path as NSString).appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: json) { return try ByteLevelBPETokenizer.huggingFace(tokenizerJSON: json) }
        return try ByteLevelBPETokenizer.gpt2(vocabJSON: (path as NSString).appendingPathComponent("vocab.json"),
                                              mergesTXT: (path as NSString).appendingPathComponent("merges.txt"))
    }

    /// The tokenizer and the decoder, checked against each other: every id the tokenizer can
    /// produce must have a row in the model's embedding.
    func load(forTraining: Bool) throws -> (DecoderLM, ByteLevelBPETokenizer) {
        let path = try decoderPath()
        let tokenizer = try loadTokenizer(at: path)
        let decoder = try loadDecoder(at: path, forTraining: forTraining)
        guard tokenizer.vocabularySize <= decoder.config.vocabSize else {
            throw FormatError(file: path, "the tokenizer has \(tokenizer.vocabularySize) tokens; the model's vocabulary only \(decoder.config.vocabSize)")
        }
        return (decoder, tokenizer)
    }

    /// The decoder; for inference it keeps a GGUF file's quantised weights unless `--fp32` is given.
    func loadDecoder(forTraining: Bool) throws -> DecoderLM { try loadDecoder(at: decoderPath(), forTraining: forTraining) }

    func loadDecoder(at path: String, forTraining: Bool) throws -> DecoderLM {
        path.hasSuffix(".gguf") ? try DecoderLM(gguf: path, keepQuantized: !forTraining && !fp32)
                                       : try DecoderLM(huggingFaceDirectory: path)
    }
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a text as a JSON array.")
    @OptionGroup var model: ModelOption
    @Argument(help: "The text.") var text: String

    func run() throws {
        let path = try model.resolvedPath()
        // A BERT encoder's WordPiece ids as the model sees them ([CLS] … [SEP]); a decoder's BPE ids.
        let ids = ModelKind(path: path) == .encoder
            ? try WordPieceTokenizer.bert(vocabTXT: (path as NSString).appendingPathComponent("vocab.txt")).encodeForModel(text)
            : try model.loadTokenizer().encode(text)
        print("[" + ids.map(String.init).joined(separator: ", ") + "]")
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Continue a prompt with a decoder model.")
    @OptionGroup var model: ModelOption
    @OptionGroup var compute: ComputeOptions
    @Option(help: "The prompt.") var prompt: String
    @Option(parsing: .unconditional, help: "Maximum number of new tokens.") var maxTokens = 64
    @Flag(help: "Greedy decoding (the default unless a sampling option is given).") var greedy = false
    @Option(parsing: .unconditional, help: "Sample from the k most likely tokens.") var topK: Int?
    @Option(parsing: .unconditional, help: "Sample from the smallest set of tokens whose probability reaches p.") var topP: Float?
    @Option(parsing: .unconditional, help: "Sampling temperature.") var temperature: Float?
    @Option(parsing: .unconditional, help: "Random seed for sampling.") var seed: UInt64 = 0
    @Flag(help: "Print one JSON line with prompt_ids, output_ids and text.") var json = false
    @Flag(help: "Do not print the speed and memory line at the end (on standard error).") var quiet = false

    func validate() throws {
        if greedy && (topK != nil || topP != nil || temperature != nil) {
            throw ValidationError("--greedy cannot be combined with --top-k, --top-p or --temperature")
        }
        try validateSampling(topK: topK, topP: topP, temperature: temperature)
        guard (1...1_000_000).contains(maxTokens) else { throw ValidationError("--max-tokens must be in 1…1000000, not \(maxTokens)") }
    }

    func run() throws {
        try compute.apply()
        let (decoder, tokenizer) = try model.load(forTraining: false)
        let promptIds = tokenizer.encode(prompt)
        guard !promptIds.isEmpty else { throw ValidationError("the prompt is empty") }
        try checkGenerationFits(decoder, promptLength: promptIds.count, maxTokens: maxTokens)
        let sampling = topK != nil || topP != nil || temperature != nil
        let strategy: SamplingStrategy = sampling ? .sample(temperature: temperature ?? 1, topK: topK, topP: topP) : .greedy
        let stops = Set([tokenizer.eosToken].compactMap { $0 })
        var options = GenerationOptions(maxNewTokens: maxTokens, strategy: strategy, stopTokens: stops, seed: seed)
        let clock = GenerationClock()
        options.afterPrefill = { clock.markPrefill() }
        let output: [Int]
        do { output = try decoder.generate(prompts: [promptIds], options: options)[0] } catch var error as NonFiniteLogits {
            error.model = model.model
            throw error
        }
        let (prefill, total) = clock.finish()
        let text = tokenizer.decode(output)
        if json {
            let object: [String: Any] = ["prompt_ids": promptIds, "output_ids": output, "text": text]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(prompt + text)
        }
        if !quiet {
            // As mlx_lm and llama.cpp do: prompt and generation speed apart, then peak memory.
            let generated = output.count + (output.count < maxTokens ? 1 : 0)  // the stop token was computed too
            let line = String(format: "prompt: %d tokens, %.1f tokens/s · generation: %d tokens, %.1f tokens/s · peak memory %.0f MB\n",
                              promptIds.count, Double(promptIds.count) / max(prefill, 1e-9), generated,
                              Double(max(generated - 1, 0)) / max(total - prefill, 1e-9), peakResidentMegabytes())
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}

/// Wall-clock times of one generation: when the prefill ended and when everything ended.
final class GenerationClock: @unchecked Sendable {
    private let start = DispatchTime.now().uptimeNanoseconds
    private var prefillEnd: UInt64?

    func markPrefill() { prefillEnd = DispatchTime.now().uptimeNanoseconds }

    /// (prefill seconds, total seconds).
    func finish() -> (Double, Double) {
        let end = DispatchTime.now().uptimeNanoseconds
        return (Double((prefillEnd ?? end) - start) / 1e9, Double(end - start) / 1e9)
    }
}

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print L2-normalised sentence embeddings, one JSON array per text.")
    @Option(help: "A sentence-transformers directory (BERT) or a cached model name (minilm-l6).") var model: String
    @OptionGroup var compute: ComputeOptions
    @Argument(help: "The texts.") var texts: [String]

    func run() throws {
        try compute.apply()
        let path = try resolveModel(model)
        if ModelKind(path: path) == .decoder {
            throw ValidationError("'\(model)' is a decoder (a language model), not a sentence encoder: use `lifelong generate --model \(model)`")
        }
        let encoder = try SentenceEncoder(directory: path)
        for vector in encoder.embed(texts) {
            print("[" + vector.map { String(format: "%.7g", $0) }.joined(separator: ", ") + "]")
        }
    }
}

/// A generation must fit the model's positions: refused with the numbers instead of failing inside.
func checkGenerationFits(_ model: DecoderLM, promptLength: Int, maxTokens: Int, count: Int = 1) throws {
    guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
    guard (1...4096).contains(count) else { throw ValidationError("--count must be in 1…4096") }
    let needed = promptLength + maxTokens
    guard needed <= model.config.maxPositions else {
        throw ValidationError("a \(promptLength)-token prompt and --max-tokens \(maxTokens) need \(needed) positions; "
                              + "the model has \(model.config.maxPositions) (lower --max-tokens to at most \(max(0, model.config.maxPositions - promptLength)))")
    }
}
