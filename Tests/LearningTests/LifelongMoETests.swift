import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

/// Lifelong-MoE on a task stream: growth per stage, row-level freezing of the old experts, the
/// reported growth and load, and its config section.
@Suite(.serialized) struct LifelongMoETests {
    let stream = SyntheticTasks.demoStream(train: 40, test: 6, seed: 8)

    /// Runs the stream and returns the results, the model and every parameter as it was when each
    /// stage started (before the stage's growth).
    func run(_ settings: LifelongMoE.Settings) throws -> (StreamRunner.Results, DecoderLM, [[String: [Float]]]) {
        let makeModel = {
            DecoderLM(config: DecoderConfig(architecture: .llama, vocabSize: ByteTokenizer().vocabularySize, hiddenSize: 32,
                                            layerCount: 2, headCount: 2, maxPositions: 64), seed: 3)
        }
        let model = makeModel()
        var training = TrainingSettings()
        training.epochs = 1; training.learningRate = 3e-3; training.maxLength = 48; training.tokensPerBatch = 160
        var runner = StreamRunner(settings: training, seed: 5, runDirectory: nil)
        var atStageStart: [[String: [Float]]] = []
        runner.report = { event in
            if case .stageStarted = event {
                atStageStart.append(Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.tensor.scalars) }))
            }
        }
        var method = LifelongMoE(settings: settings)
        let results = try runner.run(&method, stream: stream, model: model, tokenizer: TaskTokenizer(base: ByteTokenizer()),
                                     modelName: "tiny", startingModel: makeModel)
        return (results, model, atStageStart)
    }

    /// After stage 2 the first two experts and router block are bit-identical to what stage 1 left;
    /// the grown experts, their router block and the shared weights trained.
    @Test func oldExpertsAndRouterRowsStayFrozenWhileTheNewOnesTrain() throws {
        var settings = LifelongMoE.Settings()
        settings.every = 1
        let (_, model, starts) = try run(settings)
        let afterFirstStage = starts[1], afterSecondStage = starts[2]
        let mixtures = model.mixtureOfExpertsLayers
        #expect(mixtures.count == 2 && mixtures.allSatisfy { $0.experts.count == 6 && $0.routerBlocks.count == 3 })
        for name in afterFirstStage.keys where name.contains(".mlp.") {
            #expect(afterSecondStage[name] == afterFirstStage[name], "\(name) is frozen from stage 2 on")
        }
        let final = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.tensor.scalars) })
        for name in afterFirstStage.keys where name.contains(".mlp.") { #expect(final[name] == afterFirstStage[name], "\(name)") }
        let dense = DecoderLM(config: model.config, seed: 3)  // the starting model (same seed): the grown experts' origin
        let denseUp = dense.namedParameters.first { $0.name == "model.layers.0.mlp.up_proj.weight" }!.tensor.scalars
        #expect(afterSecondStage["model.layers.0.mlp.experts.2.up_proj.weight"] != denseUp, "a grown expert trained")
        #expect(afterSecondStage["model.layers.0.mlp.router.1.weight"] != nil)
        #expect(afterSecondStage["model.layers.0.self_attn.q_proj.weight"] != afterFirstStage["model.layers.0.self_attn.q_proj.weight"],
                "shared weights train")
    }

    @Test func withoutFreezingTheOldExpertsTrain() throws {
        var settings = LifelongMoE.Settings()
        settings.every = 1; settings.freeze = false; settings.kdWeight = 0
        let (results, _, starts) = try run(settings)
        #expect(results.method == "lifelong-moe-unfrozen-no-kd")
        #expect(starts[2]["model.layers.1.mlp.experts.0.down_proj.weight"] != starts[1]["model.layers.1.mlp.experts.0.down_proj.weight"])
    }

    /// Growth adds the same number of parameters every later stage while the active parameters
    /// per token grow only by the new router rows; load shares sum to 1 per task.
    @Test func growthAndLoadAreReported() throws {
        let (results, model, _) = try run(LifelongMoE.Settings())  // every 2: the second of two blocks
        guard case let .object(moe)? = results.methodStatistics?["mixture_of_experts"],
              case let .array(growth)? = moe["growth"], case let .array(loads)? = moe["loads"] else {
            Issue.record("no mixture_of_experts statistics"); return
        }
        func number(_ value: JSONValue, _ key: String) -> Double {
            if case let .object(o) = value, case let .number(x)? = o[key] { return x }
            return .nan
        }
        #expect(growth.map { number($0, "experts_per_layer") } == [2, 4, 6])
        #expect(growth.map { number($0, "mixture_layers") } == [1, 1, 1])
        let expertSize = Double(model.mixtureOfExpertsLayers[0].experts[0].parameterCount), width = 32.0
        #expect(growth.dropFirst().allSatisfy { number($0, "parameters_added") == 2 * (expertSize + width) })
        let active = growth.map { number($0, "active_parameters_per_token") }
        #expect(active[1] - active[0] == 2 * width && active[2] - active[1] == 2 * width, "only the router rows add to a token's work")
        #expect(Int(active[2]) == model.parameterCount - 4 * Int(expertSize))
        #expect(loads.count == 3)
        if case let .object(last) = loads[2], case let .array(rows)? = last["share"] {
            #expect(rows.count == 3)
            for row in rows {
                guard case let .array(cells) = row else { continue }
                let shares = cells.compactMap { if case let .number(x) = $0 { return x } else { return nil } }
                #expect(shares.count == 6 && abs(shares.reduce(0, +) - 1) < 1e-9)
            }
        }
    }

    @Test func theConfigSectionIsStrictAndRoundTrips() throws {
        let config = try RunConfig(yaml: "method: {name: lifelong_moe, experts: 4, experts_per_stage: 1, every: 1, expert_init: mean, capacity_factor: 1.25}",
                                   source: "x.yaml")
        let moe = try #require(config.method as? LifelongMoE.Config)
        #expect(moe.settings.experts == 4 && moe.settings.expertsPerStage == 1 && moe.settings.expertInit == .mean && moe.settings.capacityFactor == 1.25)
        #expect(try RunConfig(yaml: config.yaml, source: "c.yaml").difference(from: config) == nil)
        #expect { try RunConfig(yaml: "method: {name: lifelong_moe, expert: 4}", source: "x.yaml") } throws: {
            "\($0)".contains("unknown key 'method.expert'")
        }
        #expect { try RunConfig(yaml: "method: {name: lifelong_moe, experts: 1}", source: "x.yaml") } throws: {
            "\($0)".contains("method.top_k")
        }
        #expect { try RunConfig(yaml: "method: {name: lifelong_moe, kd_weight: -1}", source: "x.yaml") } throws: {
            "\($0)".contains("method.kd_weight")
        }
    }
}
