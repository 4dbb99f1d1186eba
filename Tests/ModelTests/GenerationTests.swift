import LifelongEngine
import LifelongFormats
import LifelongModels
import Testing

@Suite struct GenerationTests {
    static let prompts = 3

    func references(_ name: String) throws -> (model: DecoderLM, prompts: [[Int]], outputs: [[Int]]) {
        let model = try DecoderLM(huggingFaceDirectory: Fixture.path(name))
        let expected = try SafetensorsFile(path: Fixture.path("\(name)/expected.safetensors"))
        let prompts = try (0..<Self.prompts).map { try expected.integers("generate.prompt\($0)") }
        let outputs = try (0..<Self.prompts).map { try expected.integers("generate.output\($0)") }
        return (model, prompts, outputs)
    }

    /// All prompts decoded together (left-padded, KV cache) give what transformers' greedy
    /// `generate` gives for each prompt alone.
    @Test(arguments: ["tiny-gpt2", "tiny-llama"])
    func batchedGreedyMatchesTransformers(model name: String) throws {
        let (model, prompts, outputs) = try references(name)
        let generated = model.generate(prompts: prompts, options: GenerationOptions(maxNewTokens: 8))
        #expect(generated == outputs)
    }

    @Test func cachedDecodingEqualsRecomputingThePrefix() throws {
        let (model, prompts, _) = try references("tiny-llama")
        for prompt in prompts {
            let cached = model.generate(prompts: [prompt], options: GenerationOptions(maxNewTokens: 10))
            #expect(cached[0] == model.greedyContinuation(of: prompt, maxNewTokens: 10))
        }
    }

    @Test func stopTokensEndEachSequenceSeparately() throws {
        let (model, prompts, outputs) = try references("tiny-gpt2")
        let stop = outputs[0][2]
        let generated = model.generate(prompts: prompts, options: GenerationOptions(maxNewTokens: 8, stopTokens: [stop]))
        for (got, full) in zip(generated, outputs) {
            #expect(got == Array(full.prefix { $0 != stop }))
        }
    }

    @Test func samplingIsSeededAndRespectsTopK() throws {
        let (model, prompts, _) = try references("tiny-llama")
        let options = GenerationOptions(maxNewTokens: 12, strategy: .sample(temperature: 1, topK: 3), seed: 11)
        let first = model.generate(prompts: prompts, options: options)
        #expect(first == model.generate(prompts: prompts, options: options))
        var other = options
        other.seed = 12
        #expect(first != model.generate(prompts: prompts, options: other))
        // Every sampled token is among the 3 most likely given its prefix.
        for (prompt, output) in zip(prompts, first) {
            var prefix = prompt
            for token in output {
                let logits = noGrad { model.logits(TokenBatch(rows: [prefix])) }.scalars.suffix(64)
                let top3 = Array(logits.enumerated().sorted { $0.element > $1.element }.prefix(3).map(\.offset))
                #expect(top3.contains(token))
                prefix.append(token)
            }
        }
    }

    @Test func topPKeepsTheSmallestSufficientSet() {
        // Probabilities ≈ [0.64, 0.24, 0.09, 0.03]: top-p 0.7 keeps the first two only.
        let logits: [Float] = [3, 2, 1, 0]
        var rng = SeededGenerator(seed: 3)
        var seen = Set<Int>()
        logits.withUnsafeBufferPointer { row in
            for _ in 0..<400 { seen.insert(sampleToken(row, .sample(temperature: 1, topP: 0.7), rng: &rng)) }
        }
        #expect(seen == [0, 1])
    }
}
