import ArgumentParser
import Foundation
import LifelongFormats
import LifelongModels

/// `--model` for the decoder commands: a GGUF file, a Hugging Face directory, or a cache name.
struct ModelOption: ParsableArguments {
    @Option(help: "A GGUF file, a Hugging Face model directory, or a cached model name (smollm2-135m).")
    var model: String
    @Flag(help: "Compute in fp32 even when a GGUF file's weights are quantised (by default inference multiplies by the Q4_0/Q4_1/Q8_0 blocks directly: the same weight values, 4–6× fewer bytes per token).")
    var fp32 = false

    func source() throws -> ModelSource { try ModelSource(model) }

    func loadDecoder(forTraining: Bool) throws -> DecoderLM { try source().decoder(keepQuantized: !forTraining && !fp32) }
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a text as a JSON array.")
    @OptionGroup var model: ModelOption
    @Argument(help: "The text.") var text: String

    func run() throws {
        let source = try model.source()
        // A BERT encoder's WordPiece ids as the model sees them ([CLS] … [SEP]); a decoder's BPE ids.
        let ids = source.kind == .encoder
            ? try WordPieceTokenizer.bert(vocabTXT: (source.path as NSString).appendingPathComponent("vocab.txt")).encodeForModel(text)
            : try source.tokenizer().encode(text)
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
        let source = try model.source()
        let (decoder, tokenizer) = try source.decoderAndTokenizer(keepQuantized: !model.fp32)
        let promptIds = tokenizer.encode(prompt)
        guard !promptIds.isEmpty else { throw ValidationError("the prompt is empty") }
        try checkGenerationFits(decoder, promptLength: promptIds.count, maxTokens: maxTokens)
        let sampling = topK != nil || topP != nil || temperature != nil
        let strategy: SamplingStrategy = sampling ? .sample(temperature: temperature ?? 1, topK: topK, topP: topP) : .greedy
        let stops = try source.endOfTextTokens(tokenizer)
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
        let encoder = try ModelSource(model).sentenceEncoder()
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
