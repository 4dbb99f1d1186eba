import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels
import Testing

/// The real SmolLM2-135M-Instruct GGUF against transformers loading the same file
/// (scripts/make_real_model_fixtures.py). `make test` pulls the model first.
@Suite(.serialized) struct SmolLM2Tests {
    static let path: String? = ModelCache().path(of: "smollm2-135m")
    static let model: DecoderLM? = path.flatMap { try? DecoderLM(gguf: $0) }
    /// The same file with its Q4_1/Q8_0 blocks kept for inference.
    static let quantizedModel: DecoderLM? = path.flatMap { try? DecoderLM(gguf: $0, keepQuantized: true) }
    static let tokenizer: ByteLevelBPETokenizer? = path.flatMap { try? ByteLevelBPETokenizer.gguf(GGUFFile(path: $0)) }
    static let expected = try? SafetensorsFile(path: Fixture.path("smollm2.expected.safetensors"))

    func require<T>(_ value: T?) throws -> T {
        guard let value else {
            throw FormatError(file: "smollm2-135m", "model not in the cache: run `lifelong models pull smollm2-135m` (make test does)")
        }
        return value
    }

    @Test func configurationFromGGUFMetadata() throws {
        let config = try require(Self.model).config
        #expect(config.layerCount == 30 && config.hiddenSize == 576 && config.headCount == 9 && config.kvHeadCount == 3)
        #expect(config.vocabSize == 49152 && config.intermediateSize == 1536 && config.tieWordEmbeddings)
        #expect(config.ropeTheta == 100_000)
    }

    @Test func tokenizerMatchesTransformersOnTheCorpus() throws {
        let tokenizer = try require(Self.tokenizer)
        let texts = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: Fixture.path("tokenizer-corpus.json"))))
        let expected = try JSONDecoder().decode([[Int]].self, from: Data(contentsOf: URL(fileURLWithPath: Fixture.path("smollm2-tokens.json"))))
        #expect(texts.count == expected.count && texts.count > 250)
        var mismatches = 0
        for (text, ids) in zip(texts, expected) {
            let ours = tokenizer.encode(text)
            if ours != ids {
                mismatches += 1
                Issue.record("\(text.debugDescription): \(ours) ≠ transformers \(ids)")
            }
            #expect(tokenizer.decode(ours) == text, "decode(encode(\(text.debugDescription)))")
        }
        #expect(mismatches == 0)
    }

    @Test func lastPositionLogitsMatchTransformers() throws {
        let (model, expected) = (try require(Self.model), try require(Self.expected))
        for i in 0..<2 {
            let prompt = try expected.integers("prompt\(i)")
            let logits = noGrad { model.logits(TokenBatch(rows: [prompt])) }.scalars.suffix(model.config.vocabSize)
            let error = relativeError(Array(logits), try expected.tensor("logits\(i)").scalars)
            #expect(error <= 1e-3, "prompt \(i): relative error \(error)")
        }
    }

    @Test func quantisedWeightsGiveTheSameLogits() throws {
        let (model, expected) = (try require(Self.quantizedModel), try require(Self.expected))
        #expect(model.quantizedByteCount > 80_000_000 && model.quantizedByteCount < 120_000_000)
        for i in 0..<2 {
            let prompt = try expected.integers("prompt\(i)")
            let logits = noGrad { model.logits(TokenBatch(rows: [prompt])) }.scalars.suffix(model.config.vocabSize)
            let error = relativeError(Array(logits), try expected.tensor("logits\(i)").scalars)
            #expect(error <= 1e-3, "prompt \(i): relative error \(error)")
        }
        // One sequence decodes through the one-row (matrix-vector) kernels.
        let single = try model.generate(prompts: [try expected.integers("prompt0")], options: GenerationOptions(maxNewTokens: 16))
        #expect(single[0] == (try expected.integers("greedy0")))
    }

    @Test(arguments: [false, true])
    func batchedGreedyContinuationsMatchTransformers(quantized: Bool) throws {
        let (model, expected) = (try require(quantized ? Self.quantizedModel : Self.model), try require(Self.expected))
        let prompts = try (0..<4).map { try expected.integers("prompt\($0)") }
        let generated = try model.generate(prompts: prompts, options: GenerationOptions(maxNewTokens: 16))
        for i in 0..<4 {
            #expect(generated[i] == (try expected.integers("greedy\(i)")), "prompt \(i)")
        }
    }
}
