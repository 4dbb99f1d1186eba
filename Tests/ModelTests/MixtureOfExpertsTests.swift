import Foundation
import LifelongEngine
import LifelongFormats
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
        var zeroRouter: SeededGenerator? = nil
        model.installMixturesOfExperts(every: 1, experts: experts, topK: 2, capacityFactor: capacityFactor, rng: &zeroRouter)
    }

    /// The layer's output and its router load, called outside a model.
    func run(_ layer: MixtureOfExperts, _ x: Tensor) -> (y: Tensor, load: [Int]) {
        let pass = ForwardPass()
        let y = layer(x, pass)
        return (y, pass.routerLoads[0].load)
    }

    func randomiseRouters(_ model: DecoderLM, std: Float = 1) {
        var rng = SeededGenerator(seed: 9)
        for layer in model.mixtureOfExpertsLayers {
            for block in layer.routerBlocks { for i in 0..<block.weight.count { block.weight.data[i] = std * rng.nextGaussian() } }
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
        checkGradients([x, layer.routerBlocks[0].weight] + layer.experts[1].parameters, epsilon: 1e-3, tolerance: 3e-2) { layer(x, ForwardPass()) }
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
        let (y, load) = noGrad { run(layer, x) }
        #expect(load == [4, 4])
        let lastRows = y.scalars[(4 * 16)...]
        #expect(lastRows.allSatisfy { $0 == 0 }, "the tokens after the first four passed through the residual alone")
        #expect(y.scalars[..<16].contains { $0 != 0 })
    }

    /// A layer grown twice (three router blocks side by side): the gradients of every block and
    /// of a grown expert match finite differences.
    @Test func gradientsOfAGrownLayer() {
        let model = tinyModel(.llama)
        upcycle(model, experts: 2)
        let layer = model.mixtureOfExpertsLayers[0]
        var rng: SeededGenerator? = SeededGenerator(seed: 12)
        layer.grow(1, copying: layer.experts[0], routerStd: 1, rng: &rng)
        layer.grow(2, copying: averagedLayer(layer.experts), routerStd: 1, rng: &rng)
        randomiseRouters(model, std: 3)
        var noise = SeededGenerator(seed: 13)
        for expert in layer.experts { for p in expert.parameters { for i in 0..<p.count { p.data[i] += 0.05 * noise.nextGaussian() } } }
        #expect(layer.experts.count == 5 && layer.routerBlocks.map(\.outFeatures) == [2, 1, 2])
        let x = Tensor((0..<(2 * 3 * 16)).map { _ in noise.nextGaussian() }, shape: [2, 3, 16], requiresGrad: true)
        checkGradients([x] + layer.routerBlocks.map(\.weight) + layer.experts[4].parameters, epsilon: 1e-3, tolerance: 3e-2) { layer(x, ForwardPass()) }
    }

    /// The mean expert is the element-wise mean of the experts' weights.
    @Test func theMeanExpertAveragesTheWeights() {
        let model = tinyModel(.gpt2)
        upcycle(model, experts: 2)
        let experts = model.mixtureOfExpertsLayers[0].experts
        for p in experts[1].parameters { for i in 0..<p.count { p.data[i] += 1 } }
        let mean = averagedLayer(experts)
        for (m, (a, b)) in zip(mean.parameters, zip(experts[0].parameters, experts[1].parameters)) {
            #expect(zip(m.scalars, zip(a.scalars, b.scalars)).allSatisfy { abs($0 - ($1.0 + $1.1) / 2) < 1e-6 })
        }
    }

    /// A grown model's records rebuild the same structure in a fresh model, which then computes
    /// the same logits from the same weights; `copy()` does both at once.
    @Test(arguments: [DecoderConfig.Architecture.gpt2, .llama])
    func recordsRebuildAGrownModel(_ architecture: DecoderConfig.Architecture) throws {
        let model = tinyModel(architecture)
        var rng: SeededGenerator? = SeededGenerator(seed: 14)
        model.installMixturesOfExperts(every: 2, experts: 2, topK: 2, capacityFactor: 1.5, rng: &rng)
        for layer in model.mixtureOfExpertsLayers { layer.grow(3, copying: layer.experts[1], rng: &rng) }
        var noise = SeededGenerator(seed: 15)
        for p in model.parameters { for i in 0..<p.count { p.data[i] += 0.02 * noise.nextGaussian() } }
        #expect(model.mixtureOfExpertsLayers.count == 1, "every 2 of 2 blocks: the second")
        let records = model.layerRecords
        #expect(records.count == 1 && records[0].settings["router_blocks"] == 2 && records[0].settings["capacity_factor_permille"] == 1500)

        let rebuilt = DecoderLM(config: model.config, seed: nil)
        try rebuilt.install(records)
        let source = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.tensor.scalars) })
        #expect(rebuilt.namedParameters.map(\.name) == model.namedParameters.map(\.name))
        for (name, p) in rebuilt.namedParameters { for (i, v) in source[name]!.enumerated() { p.data[i] = v } }
        let batch = TokenBatch(rows: [[1, 5, 9, 3, 7, 2], [4, 4, 8, 1, 0, 3]])
        let expected = noGrad { model.logits(batch) }.scalars
        #expect(noGrad { rebuilt.logits(batch) }.scalars == expected)
        let copy = try model.copy()
        #expect(noGrad { copy.logits(batch) }.scalars == expected)
        #expect(copy.parameters.allSatisfy { !$0.requiresGrad }, "a snapshot does not train")
        #expect(rebuilt.mixtureOfExpertsLayers[0].capacityFactor == 1.5)
    }

    @Test func aRecordOutOfRangeIsAnError() {
        let model = tinyModel(.llama)
        let bad = LayerRecord(path: "model.layers.0.mlp", kind: "mixture_of_experts", settings: ["top_k": 2, "router_blocks": 1, "router_block.0": 1])
        #expect(throws: FormatError.self) { try model.install([bad]) }
    }

    /// GShard's routing: with equal logits (g₂ = ½) the second expert is always kept, so the
    /// layer computes what Mixtral's does; with a router sure of its first choice (g₂ ≈ 0) the
    /// second expert is dropped while training, and the router's and experts' gradients still
    /// match finite differences.
    @Test func gshardKeepsTheSecondExpertWithProbabilityTwiceItsGate() {
        let model = tinyModel(.llama)
        upcycle(model, experts: 2)
        let layer = model.mixtureOfExpertsLayers[0]
        var rng = SeededGenerator(seed: 16)
        for expert in layer.experts { for p in expert.parameters { for i in 0..<p.count { p.data[i] += 0.05 * rng.nextGaussian() } } }
        let x = Tensor((0..<(40 * 16)).map { _ in rng.nextGaussian() }, shape: [1, 40, 16], requiresGrad: true)
        let mixtral = run(layer, x).y.scalars
        layer.gating = .gshard
        let gshard = run(layer, x)
        #expect(gshard.y.scalars == mixtral && gshard.load == [40, 40], "g₂ = ½: always kept")
        for i in 0..<16 { layer.routerBlocks[0].weight.data[i] = 0 }
        for i in 0..<16 { layer.routerBlocks[0].weight.data[16 + i] = 0 }
        layer.routerBlocks[0].weight.data[0] = 40  // expert 0's logit ≫ expert 1's on most tokens
        let confident = run(layer, x).load
        #expect(confident.reduce(0, +) < 70, "confident tokens drop their second expert: \(confident)")
        let inference = noGrad { run(layer, x) }
        #expect(inference.y.scalars.count == 640 && inference.load.reduce(0, +) == 80, "inference routes to both")
        layer.routerBlocks[0].weight.data[0] = 1
        let few = Tensor(Array(x.scalars.prefix(6 * 16)), shape: [1, 6, 16])  // few tokens: none near its coin's threshold
        let fewLoad = run(layer, few).load
        #expect(fewLoad.reduce(0, +) < 12, "some second expert dropped: \(fewLoad)")
        // Not the input's gradient by finite differences: moving x moves the coin (a hash of its bits).
        checkGradients([layer.routerBlocks[0].weight] + layer.experts[0].parameters, epsilon: 1e-3, tolerance: 3e-2) { layer(few, ForwardPass()) }
    }
}
