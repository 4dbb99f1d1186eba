import Foundation
import LifelongEngine
import LifelongModels
import TestSupport
import Testing

/// The mixture-of-experts layer: upcycling is exact at the start, gradients of the whole layer,
/// the load-balancing loss, capacity overflow.
@Suite struct MixtureOfExpertsTests {
    func tinyModel(_ architecture: DecoderConfig.Architecture) -> DecoderLM {
        DecoderLM(config: DecoderConfig(architecture: architecture, vocabSize: 40, hiddenSize: 16, layerCount: 2, headCount: 2,
                                        maxPositions: 32), seed: 7)
    }

    func upcycle(_ model: DecoderLM, experts: Int = 4, capacityFactor: Float? = nil) {
        model.replaceFeedForwardLayers { _, layer in
            MixtureOfExperts(upcycling: layer as! FeedForward, experts: experts, capacityFactor: capacityFactor)
        }
    }

    func randomiseRouters(_ model: DecoderLM, std: Float = 1) {
        var rng = SeededGenerator(seed: 9)
        for layer in model.mixtureOfExpertsLayers {
            for i in 0..<layer.router.weight.count { layer.router.weight.data[i] = std * rng.nextGaussian() }
        }
    }

    @Test(arguments: [DecoderConfig.Architecture.gpt2, .llama])
    func anUpcycledModelComputesTheDenseModel(_ architecture: DecoderConfig.Architecture) {
        let model = tinyModel(architecture), batch = TokenBatch(rows: [[1, 5, 9, 3], [4, 4, 8, 1]])
        let dense = noGrad { model.logits(batch) }.scalars
        upcycle(model)
        randomiseRouters(model)  // any routing: the experts are copies and a token's gates sum to 1
        let moe = noGrad { model.logits(batch) }.scalars
        #expect(zip(dense, moe).map { abs($0 - $1) }.max()! < 1e-5)
        #expect(model.namedParameters.contains { $0.name.hasSuffix("mlp.experts.3.c_fc.weight") || $0.name.hasSuffix("mlp.experts.3.up_proj.weight") })
    }

    /// Experts that differ (perturbed copies) and a router with separated logits: the gradients of
    /// the input, the router and the experts match finite differences.
    @Test func gradientsOfTheLayer() {
        let model = tinyModel(.llama)
        upcycle(model, experts: 3)
        randomiseRouters(model, std: 3)
        let layer = model.mixtureOfExpertsLayers[0]
        var rng = SeededGenerator(seed: 10)
        for expert in layer.experts { for p in expert.parameters { for i in 0..<p.count { p.data[i] += 0.05 * rng.nextGaussian() } } }
        let x = Tensor((0..<(2 * 3 * 16)).map { _ in rng.nextGaussian() }, shape: [2, 3, 16], requiresGrad: true)
        checkGradients([x, layer.router.weight] + layer.experts[1].parameters, epsilon: 1e-3, tolerance: 3e-2) { layer(x) }
    }

    @Test func gradientOfTheLoadBalancingLoss() {
        var rng = SeededGenerator(seed: 11)
        let logits = Tensor((0..<(6 * 4)).map { _ in rng.nextGaussian() }, shape: [6, 4], requiresGrad: true)
        let chosen = topKGates(logits, k: 2).experts
        checkGradients([logits], epsilon: 1e-3) { MixtureOfExperts.loadBalancingLoss(logits: logits, chosen: chosen, topK: 2) }
        // Uniform probabilities and a balanced choice give the loss's minimum, k.
        let uniform = Tensor(zeros: [4, 4])
        let balanced = MixtureOfExperts.loadBalancingLoss(logits: uniform, chosen: [0, 1, 2, 3, 0, 1, 2, 3], topK: 2)
        #expect(abs(balanced.item - 2) < 1e-6)
    }

    @Test func tokensBeyondAnExpertsCapacityGetNothingFromIt() {
        let model = tinyModel(.llama)
        upcycle(model, experts: 2, capacityFactor: 0.5)  // 2 experts, top-2, 8 tokens: 4 per expert
        let layer = model.mixtureOfExpertsLayers[0]
        let x = Tensor((0..<(8 * 16)).map { Float($0 % 7) / 7 }, shape: [1, 8, 16])
        let y = noGrad { layer(x) }
        #expect(layer.load == [4, 4])
        let lastRows = y.scalars[(4 * 16)...]
        #expect(lastRows.allSatisfy { $0 == 0 }, "the tokens after the first four passed through the residual alone")
        #expect(y.scalars[..<16].contains { $0 != 0 })
    }
}
