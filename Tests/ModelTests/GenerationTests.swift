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
    @Test(arguments: ["tiny-gpt2", "tiny-llama", "tiny-qwen2"])
    func batchedGreedyMatchesTransformers(model name: String) throws {
        let (model, prompts, outputs) = try references(name)
        let generated = try model.generate(prompts: prompts, options: GenerationOptions(maxNewTokens: 8))
        #expect(generated == outputs)
    }

    @Test func cachedDecodingEqualsRecomputingThePrefix() throws {
        let (model, prompts, _) = try references("tiny-llama")
        for prompt in prompts {
            let cached = try model.generate(prompts: [prompt], options: GenerationOptions(maxNewTokens: 10))
            #expect(cached[0] == model.greedyContinuation(of: prompt, maxNewTokens: 10))
        }
    }

    @Test func stopTokensEndEachSequenceSeparately() throws {
        let (model, prompts, outputs) = try references("tiny-gpt2")
        let stop = outputs[0][2]
        let generated = try model.generate(prompts: prompts, options: GenerationOptions(maxNewTokens: 8, stopTokens: [stop]))
        for (got, full) in zip(generated, outputs) {
            #expect(got == Array(full.prefix { $0 != stop }))
        }
    }

    @Test func samplingIsSeededAndRespectsTopK() throws {
        let (model, prompts, _) = try references("tiny-llama")
        let options = GenerationOptions(maxNewTokens: 12, strategy: .sample(temperature: 1, topK: 3), seed: 11)
        let first = try model.generate(prompts: prompts, options: options)
        let again = try model.generate(prompts: prompts, options: options)
        #expect(first == again)
        var other = options
        other.seed = 12
        let reseeded = try model.generate(prompts: prompts, options: other)
        #expect(first != reseeded)
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

@Suite struct VocabularyGrowthTests {
    @Test func newRowsAreAddedToEmbeddingAndUntiedHead() throws {
        let model = try DecoderLM(huggingFaceDirectory: Fixture.path("tiny-llama"))
        let before = model.tokenEmbedding.weight.scalars
        let ids = model.addTokens(3, seed: 1)
        #expect(ids == 64..<67 && model.config.vocabSize == 67)
        #expect(model.tokenEmbedding.weight.shape == [67, 32] && model.lmHead!.weight.shape == [67, 32])
        #expect(Array(model.tokenEmbedding.weight.scalars.prefix(before.count)) == before)
        // The model runs with the new ids, and their logits exist.
        let logits = noGrad { model.logits(TokenBatch(rows: [[1, 65, 66]])) }
        #expect(logits.shape == [1, 3, 67] && logits.scalars.allSatisfy(\.isFinite))
        // New rows are drawn like the existing ones: their mean norm is that of the old rows (± 40 %
        // for 3 draws of 32 dimensions), and they are distinct.
        let rowNorm = { (w: [Float], r: Int) in w[(r * 32)..<((r + 1) * 32)].reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let weights = model.tokenEmbedding.weight.scalars
        let oldNorm = (0..<64).map { rowNorm(before, $0) }.reduce(0, +) / 64
        let newNorm = (64..<67).map { rowNorm(weights, $0) }.reduce(0, +) / 3
        #expect(abs(newNorm / oldNorm - 1) < 0.4, "new rows' norm \(newNorm) vs old rows' \(oldNorm)")
        #expect(weights[(64 * 32)..<(65 * 32)] != weights[(65 * 32)..<(66 * 32)])
        // Training reaches the new rows.
        sum(model.logits(TokenBatch(rows: [[65, 2]]))).backward()
        #expect(model.tokenEmbedding.weight.gradScalars![(65 * 32)..<(66 * 32)].contains { $0 != 0 })
    }

    @Test func tokenizerLearnsTaskTokens() throws {
        let path = try #require(ModelCache().path(of: "smollm2-135m"), "run `lifelong models pull smollm2-135m`")
        let base = try ByteLevelBPETokenizer.gguf(GGUFFile(path: path))
        let grown = base.adding(specialTokens: ["__ans__", "__sst__", "<|endoftext|>"])
        #expect(grown.vocabularySize == 49154)
        #expect(grown.encode("great movie __ans__ positive") == base.encode("great movie ") + [49152] + base.encode(" positive"))
        #expect(grown.decode(grown.encode("a __sst__ b")) == "a __sst__ b")
        #expect(grown.id(of: "<|endoftext|>") == 0)
    }
}
