import Foundation
import LifelongEngine
import LifelongModels
import Testing

/// Projections replaced by low-rank mixtures (SLM): exact at zero, per-row mixtures in one
/// batch, and rebuilt from the run state's records.
@Suite struct ReplaceableLayerTests {
    func tinyModel(_ architecture: DecoderConfig.Architecture) -> DecoderLM {
        DecoderLM(config: DecoderConfig(architecture: architecture, vocabSize: 40, hiddenSize: 16, layerCount: 2, headCount: 2,
                                        maxPositions: 32), seed: 7)
    }

    let batch = TokenBatch(rows: [[1, 5, 9, 3, 2], [4, 4, 8, 1, 7]])

    @Test(arguments: [DecoderConfig.Architecture.gpt2, .llama])
    func namesMatchTheCheckpointAndFreshIncrementsChangeNothing(_ architecture: DecoderConfig.Architecture) throws {
        let model = tinyModel(architecture)
        let parameterNames = Set(model.namedParameters.map(\.name))
        for (name, _) in model.modules(of: (any LinearLayer).self) { #expect(parameterNames.contains("\(name).weight"), "\(name)") }
        let before = noGrad { model.logits(batch) }.scalars
        let target = architecture == .gpt2 ? "attn.c_proj" : "o_proj"
        let wrapped = try model.installLowRankMixtures(targets: [target], rank: 4)
        #expect(wrapped.count == 2)
        var rng: SeededGenerator? = SeededGenerator(seed: 1)
        for layer in model.lowRankMixtureLayers { layer.addSlots(3, rng: &rng) }
        let mixture = Conditioning(slotWeights: [0.5, 0.5, 0, 0, 0, 1])
        #expect(noGrad { model.logits(batch, conditioning: mixture) }.scalars == before, "A = 0: the increments are exactly zero")
    }

    /// Slots with non-zero A: a batch whose rows use different mixtures decodes as each row alone.
    @Test func aBatchMixingSlotsDecodesAsEachRowAlone() throws {
        let model = tinyModel(.llama)
        try model.installLowRankMixtures(targets: ["o_proj"], rank: 2)
        var rng: SeededGenerator? = SeededGenerator(seed: 2)
        for layer in model.lowRankMixtureLayers {
            layer.addSlots(2, rng: &rng)
            for a in layer.a { for i in 0..<a.count { a.data[i] = rng!.nextGaussian() } }
        }
        let prompts = [[1, 5, 9], [4, 4, 8, 1, 7]]
        let mixtures: [[Float]] = [[1, 0], [0.3, 0.7]]
        let options = GenerationOptions(maxNewTokens: 6)
        let together = try model.generate(prompts: prompts, options: options, conditioning: Conditioning(slotWeights: mixtures.flatMap { $0 }))
        for (prompt, mixture) in zip(prompts, mixtures) {
            let alone = try model.generate(prompts: [prompt], options: options, conditioning: Conditioning(slotWeights: mixture))[0]
            #expect(together[prompts.firstIndex(of: prompt)!] == alone)
        }
        let first = try model.generate(prompts: prompts, options: options, conditioning: Conditioning(slotWeights: [1, 0, 1, 0]))
        #expect(first != together, "the mixture changes the output (the test can fail)")
    }

    @Test func recordsRebuildTheSameModel() throws {
        let model = tinyModel(.gpt2)
        try model.installLowRankMixtures(targets: ["attn.c_proj"], rank: 3)
        var rng: SeededGenerator? = SeededGenerator(seed: 3)
        for layer in model.lowRankMixtureLayers { layer.addSlots(2, rng: &rng) }
        let rebuilt = tinyModel(.gpt2)
        try rebuilt.install(model.layerRecords)
        #expect(rebuilt.namedParameters.map(\.name) == model.namedParameters.map(\.name))
        #expect(rebuilt.namedParameters.map(\.tensor.shape) == model.namedParameters.map(\.tensor.shape))
        let bad = LayerRecord(path: "transformer.h.9.attn.c_proj", kind: "low_rank_mixture", settings: ["rank": 3, "slots": 2])
        #expect(throws: (any Error).self) { try tinyModel(.gpt2).install([bad]) }
    }
}
