import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

/// A layer kind the library does not know: a projection whose output is scaled, feature by
/// feature, by a learned gain. One type plus one `LayerKinds.register` call.
final class GainProjection: LinearLayer, ReplacementLayer {
    static let kind = "test_gain_projection"
    let base: Linear
    let gain: Tensor

    init(base: Linear) {
        self.base = base
        gain = Tensor([Float](repeating: 1, count: base.outFeatures), shape: [base.outFeatures], requiresGrad: true)
    }

    var ownParameters: [(name: String, tensor: Tensor)] { base.ownParameters + [("gain", gain)] }
    var settings: [String: Int] { [:] }
    func callAsFunction(_ x: Tensor, _ pass: ForwardPass) -> Tensor { mul(base(x), gain) }

    static func register() {
        LayerKinds.register(kind) { record, module in
            guard let projection = module as? any LinearLayer else { throw ModuleError("\(record.path) is not a projection") }
            return GainProjection(base: projection.base)
        }
    }
}

/// A method defined only here: it puts a gain on every attention output projection at its first
/// stage and trains the gains alone (QA loss), through the same seam as the built-in methods.
struct GainsOnly: LifelongMethod {
    let name = "gains_only"

    /// The layer kind is known before any run state that names it is read (a resumed run's).
    init() { GainProjection.register() }

    mutating func planStage(_ context: StageContext) throws -> StagePlan {
        try context.model.replaceModules(where: { path, module in path.hasSuffix(".o_proj") && !(module is GainProjection) }) { _, module in
            GainProjection(base: (module as! any LinearLayer).base)
        }
        let gains = context.model.modules(of: GainProjection.self).map(\.module.gain)
        return StagePlan(items: context.resumedItems ?? context.task.train.map { context.item($0, gen: nil) }, trainable: gains)
    }

    /// The mean gain after each stage: the method's own statistic, kept across checkpoints.
    var meanGains: [Double] = []

    mutating func finishStage(_ context: StageContext) throws {
        let gains = context.model.modules(of: GainProjection.self).flatMap(\.module.gain.scalars)
        meanGains.append(gains.reduce(0) { $0 + Double($1) } / Double(gains.count))
    }

    func savedState() -> MethodState { MethodState(tensors: [("mean_gains", meanGains.map(Float.init))]) }

    mutating func restore(_ state: MethodState) throws {
        meanGains = (state.tensors.first { $0.name == "mean_gains" }?.values ?? []).map(Double.init)
    }

    var statistics: MethodStatistics { MethodStatistics(details: ["mean_gains": .array(meanGains.map(JSONValue.number))]) }

    /// Its own table in the report, from its statistics.
    static func reportSections(_ results: StreamRunner.Results) -> [ReportSection] {
        guard case let .array(means)? = results.methodStatistics?["mean_gains"] else { return [] }
        return [ReportSection(title: "Gains (test method)", text: "The mean gain after each stage:", header: ["stage", "mean gain"],
                              rows: zip(results.tasks, means).map { [$0, String(format: "%.4f", $1.number ?? .nan)] })]
    }
}

@Suite(.serialized) struct SeamTests {
    func tinyModel() -> DecoderLM {
        DecoderLM(config: DecoderConfig(architecture: .llama, vocabSize: ByteTokenizer().vocabularySize, hiddenSize: 32,
                                        layerCount: 2, headCount: 2, maxPositions: 64), seed: 3)
    }

    /// The method's layer is installed by path and trains alone: every other weight is
    /// bit-identical after the stream, the gains moved, and the run's state records the layers.
    @Test func aMethodAndALayerKindDefinedOutsideTheLibraryRunAStream() throws {
        let stream = SyntheticTasks.demoStream(train: 24, test: 4, seed: 8).map { $0 }
        let model = tinyModel(), before = model.namedParameters.map { ($0.name, $0.tensor.scalars) }
        var settings = TrainingSettings()
        settings.epochs = 1; settings.learningRate = 1e-2; settings.maxLength = 48; settings.tokensPerBatch = 160
        let directory = NSTemporaryDirectory() + "seam-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var runner = StreamRunner(settings: settings, seed: 1, runDirectory: directory)
        runner.report = { _ in }
        var method = GainsOnly()
        let results = try runner.run(&method, stream: stream, model: model, tokenizer: TaskTokenizer(base: ByteTokenizer()), modelName: "tiny")
        #expect(results.matrix.count == stream.count)

        let after = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.tensor.scalars) })
        let gains = model.modules(of: GainProjection.self)
        #expect(gains.map(\.path) == ["model.layers.0.self_attn.o_proj", "model.layers.1.self_attn.o_proj"])
        #expect(gains.allSatisfy { $0.module.gain.scalars.contains { $0 != 1 } }, "the gains trained")
        for (name, values) in before where name.hasPrefix("model.layers") {  // the embedding grew rows for the task tokens
            #expect(after[name] == values, "\(name) is frozen")
        }
        let gainTensors = Set(gains.map { ObjectIdentifier($0.module.gain) })
        #expect(model.parameters.filter { !gainTensors.contains(ObjectIdentifier($0)) }.allSatisfy { $0.grad == nil },
                "no gradient was ever stored for a frozen parameter")
        let checkpoint = try #require(try RunCheckpoints(runDirectory: directory).latest())
        #expect(checkpoint.state.replacedLayers?.map(\.kind) == [GainProjection.kind, GainProjection.kind])

        // Its report table: in results.json, rendered by a report that has never heard of it.
        #expect(results.reportSections?.map(\.title) == ["Gains (test method)"] && results.reportSections?[0].rows.count == stream.count)
        let markdown = try Report(runDirectories: [directory]).markdown()
        #expect(markdown.contains("### Gains (test method)") && markdown.contains("| \(stream[0].name) | "))
    }

    /// Stopped mid-stage and resumed, the run rebuilds the method's layers from its state before
    /// loading the weights, and ends bit-identical to the uninterrupted run.
    @Test func theLayerKindIsRebuiltOnResume() throws {
        try ResumeTests().checkResumeEquivalence({ GainsOnly() }, stopAfterSteps: 5, tag: "gains")
    }

    /// The forward contract: a mixture of experts' load-balancing loss and router load come out of
    /// the forward call, one per mixture layer, and no layer keeps them.
    @Test func auxiliaryLossesComeOutOfTheForwardCall() throws {
        let model = tinyModel()
        var rng: SeededGenerator? = SeededGenerator(seed: 2)
        model.installMixturesOfExperts(every: 1, experts: 3, topK: 2, capacityFactor: nil, rng: &rng)
        let batch = TokenBatch(rows: [[5, 9, 13, 2], [7, 3, 22, 41]])
        let output = model.forward(batch)
        #expect(output.auxiliaryLosses.map(\.path) == ["model.layers.0.mlp", "model.layers.1.mlp"])
        #expect(output.auxiliaryLosses.allSatisfy { $0.loss.item >= 2 - 1e-5 }, "top-2 balancing loss is at least k")
        #expect(output.routerLoads.map { $0.load.reduce(0, +) } == [16, 16], "8 tokens × top-2 per layer")
        let inference = noGrad { model.forward(batch) }
        #expect(inference.auxiliaryLosses.isEmpty && inference.routerLoads.count == 2, "no loss to train in inference")
        #expect(inference.logits.scalars == noGrad { model.logits(batch) }.scalars)
    }

    /// The trainable set is scoped: inside `GradMode.freezing`, frozen parameters get no gradient;
    /// outside, the same tensors train again, with no flag left changed.
    @Test func freezingIsScopedToTheCall() {
        let model = tinyModel()
        let batch = TokenBatch(rows: [[5, 9, 13, 2]])
        let (trainable, frozen) = model.parameters(splitBy: [model.finalNorm.weight])
        #expect(trainable.count == 1 && frozen.count == model.parameters.count - 1)
        GradMode.freezing(frozen) { model.languageModelingLoss(batch).backward() }
        #expect(model.finalNorm.weight.grad != nil)
        #expect(frozen.allSatisfy { $0.grad == nil && $0.requiresGrad }, "no gradient inside, trainable again outside")
        for p in model.parameters { p.zeroGrad() }
        model.languageModelingLoss(batch).backward()
        #expect(model.parameters.allSatisfy { $0.grad != nil })
    }
}
