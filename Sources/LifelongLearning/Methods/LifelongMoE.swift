import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels

/// Lifelong-MoE (Chen et al., ICML 2023): a decoder whose feed-forward layers are mixtures of
/// experts that grow for each new data distribution. ../shared/docs/METHODS.md §4.
///
/// Stage 0 upcycles the dense model: every `every`-th feed-forward layer becomes `experts` copies
/// of itself behind a router (the model computes what the dense one did). Every later stage
///   1. keeps a frozen snapshot of the model as the previous stage left it (p_prev);
///   2. grows `experts_per_stage` experts per mixture (copies of the starting model's dense layer,
///      or the mean of the layer's experts) and a router block for them;
///   3. freezes the old experts and the old router blocks (they are not trainable parameters:
///      no gradient, no optimiser state, bit-identical after the stage);
///   4. trains the new experts, the new router rows and the shared parameters (attention, norms,
///      embeddings) on L + aux_weight·L_aux + kd_weight·KL(p_prev ‖ p_cur) (+ l2_weight·‖θ_shared − θ_prev‖²).
/// L is the stream's loss (QA for a task stream, LM for a text corpus); the KL is taken at every
/// token of the new data (context included), as p_prev scores the whole text.
///
/// Ablations from the same config: `freeze: false` (old experts train too), `kd_weight: 0`,
/// `dense: true` (no mixture: fine-tuning, with KD when kd_weight > 0).
public struct LifelongMoE: LifelongMethod {
    public enum Gating: String, Codable, Sendable, CaseIterable { case mixtral, gshard }

    public enum ExpertInitialization: String, Codable, Sendable, CaseIterable {
        /// A copy of the starting model's dense feed-forward layer at that block.
        case dense
        /// The mean of the layer's current experts.
        case mean
    }

    public struct Settings: Sendable, Equatable {
        public var experts = 2
        public var expertsPerStage = 2
        public var every = 2
        public var topK = 2
        public var auxWeight: Float = 0.01
        public var kdWeight: Float = 1
        public var l2Weight: Float = 0
        public var capacityFactor: Float?
        /// `gshard`: GShard's random dispatch of the second expert while training (top-2 only).
        public var gating = Gating.mixtral
        public var expertInit = ExpertInitialization.dense
        public var freeze = true
        public var dense = false
        public init() {}
    }

    /// The model's size after one stage's growth, for `results.json` and the report.
    package struct Growth: Codable, Sendable, Equatable {
        public var task: String
        public var expertsPerLayer: Int
        public var mixtureLayers: Int
        public var parameters: Int
        public var parametersAdded: Int
        /// Parameters a token uses: a mixture counts its router and its top-k experts.
        public var activeParametersPerToken: Int
        /// 2 × the active matrix parameters (the head counted once, position embeddings not):
        /// constant from stage to stage by construction. Attention's length-dependent score
        /// products are left out.
        public var forwardFLOPsPerToken: Int
        enum CodingKeys: String, CodingKey {
            case task, parameters
            case expertsPerLayer = "experts_per_layer", mixtureLayers = "mixture_layers", parametersAdded = "parameters_added"
            case activeParametersPerToken = "active_parameters_per_token", forwardFLOPsPerToken = "forward_flops_per_token"
        }
    }

    /// The router's load after a stage: for every task of the stream, the share of its test
    /// tokens' expert choices that went to each expert (averaged over the mixture layers).
    package struct Load: Codable, Sendable, Equatable {
        public var after: String
        public var tasks: [String]
        public var share: [[Double]]
    }

    public let settings: Settings
    public var learnsCorpora: Bool { true }
    package private(set) var growth: [Growth] = []
    package private(set) var loads: [Load] = []
    /// p_prev while a stage trains.
    private var snapshot: DecoderLM?
    /// The snapshot's shared parameters by name, for the L2 pull.
    private var anchors: [String: Tensor] = [:]

    public init(settings: Settings = Settings()) { self.settings = settings }

    public var name: String {
        if settings.dense { return settings.kdWeight > 0 ? "dense-kd" : "dense" }
        return "lifelong-moe" + (settings.freeze ? "" : "-unfrozen") + (settings.kdWeight > 0 ? "" : "-no-kd")
    }

    public static var artefactFolders: [String] { [LifelongMoESnapshot.folder] }

    public mutating func planStage(_ context: StageContext) throws -> StagePlan {
        let model = context.model, before = model.parameterCount
        let items = context.resumedItems ?? context.task.train.map { context.item($0, gen: nil) }
        snapshot = nil; anchors = [:]
        if context.index > 0 && (settings.kdWeight > 0 || settings.l2Weight > 0) {
            snapshot = try LifelongMoESnapshot(context: context).previousModel(resumed: context.resumedItems != nil)
            guard snapshot!.config.vocabSize == context.tokenizer.vocabularySize else {
                throw FormatError(file: "method", "lifelong_moe: stage \(context.index + 1) adds tokens to the vocabulary, which the previous model cannot score")
            }
            anchors = Dictionary(uniqueKeysWithValues: snapshot!.namedParameters.filter { !Self.isExpertParameter($0.name) })
        }
        guard !settings.dense else {
            recordGrowth(context, before: before)
            return StagePlan(items: items)
        }
        var rng: SeededGenerator? = SeededGenerator(seed: context.seed &+ 13)
        if context.index == 0 {
            model.installMixturesOfExperts(every: settings.every, experts: settings.experts, topK: settings.topK,
                                           capacityFactor: settings.capacityFactor, rng: &rng)
        }
        let layers = model.mixtureOfExpertsLayers
        guard !layers.isEmpty else {
            throw FormatError(file: "method.every", "every \(settings.every) places no mixture in this model's \(model.blocks.count) blocks")
        }
        try grow(layers, stage: context.index, context: context, rng: &rng)
        for layer in layers {
            layer.capacityFactor = settings.capacityFactor
            layer.gating = settings.gating == .gshard ? .gshard : .mixtral
        }
        recordGrowth(context, before: before)
        guard settings.freeze, context.index > 0 else { return StagePlan(items: items) }
        let frozen = Set(layers.flatMap { layer in (0..<(layer.routerBlocks.count - 1)).flatMap { layer.parameters(ofBlock: $0) } }.map(ObjectIdentifier.init))
        return StagePlan(items: items, trainable: model.parameters.filter { !frozen.contains(ObjectIdentifier($0)) })
    }

    /// Adds this stage's experts to every mixture that does not have them yet (a resumed stage's
    /// model was rebuilt grown).
    private func grow(_ layers: [MixtureOfExperts], stage: Int, context: StageContext, rng: inout SeededGenerator?) throws {
        guard stage > 0, layers.contains(where: { $0.routerBlocks.count <= stage }) else { return }
        var denseLayers: [String: any DenseFeedForward] = [:]
        if settings.expertInit == .dense {
            guard let makeStartingModel = context.startingModel else {
                throw FormatError(file: "method.expert_init", "dense needs the run's starting model; use mean")
            }
            denseLayers = Dictionary(uniqueKeysWithValues: try makeStartingModel().namedFeedForwardLayers.compactMap { name, layer in
                (layer as? any DenseFeedForward).map { (name, $0) }
            })
        }
        for (name, layer) in context.model.namedFeedForwardLayers {
            guard let mixture = layer as? MixtureOfExperts, mixture.routerBlocks.count <= stage else { continue }
            guard mixture.routerBlocks.count == stage else {
                throw FormatError(file: "state.json", "\(name) has \(mixture.routerBlocks.count) router blocks at stage \(stage + 1)")
            }
            let source = settings.expertInit == .mean ? averagedLayer(mixture.experts) : denseLayers[name]!
            mixture.grow(settings.expertsPerStage, copying: source, rng: &rng)
        }
    }

    /// Router and expert parameters (the rest is shared: attention, norms, embeddings).
    static func isExpertParameter(_ name: String) -> Bool {
        name.contains(".mlp.experts.") || name.contains(".mlp.router.")
    }

    /// `before`: the parameter count when the stage started (a resumed stage keeps its record).
    private mutating func recordGrowth(_ context: StageContext, before: Int) {
        guard context.resumedItems == nil || !growth.contains(where: { $0.task == context.task.name }) else { return }
        let model = context.model, layers = model.mixtureOfExpertsLayers
        let total = model.parameterCount
        let idle = layers.reduce(0) { sum, layer in
            sum + layer.experts.dropFirst(layer.topK).reduce(0) { $0 + $1.parameterCount }  // experts are equal in size
        }
        let active = total - idle
        let headless = (model.config.tieWordEmbeddings ? 0 : model.tokenEmbedding.weight.count) + (model.positionEmbedding?.weight.count ?? 0)
        let record = Growth(task: context.task.name, expertsPerLayer: layers.first?.experts.count ?? 0, mixtureLayers: layers.count,
                            parameters: total, parametersAdded: total - before, activeParametersPerToken: active,
                            forwardFLOPsPerToken: 2 * (active - headless))
        growth.removeAll { $0.task == context.task.name }
        growth.append(record)
    }

    public func objective(_ batch: TrainingBatch, model: DecoderLM, settings training: TrainingSettings) -> [LossTerm] {
        var result: [LossTerm] = []
        func terms(of sequences: PaddedSequences, name: String, weight: Float) {
            let output = model.forward(sequences.tokens), logits = output.logits
            result.append(LossTerm("\(name)_loss", crossEntropy(logits, targets: sequences.targets, weights: sequences.weights), weight: weight))
            let aux = output.auxiliaryLosses.map(\.loss)
            if !aux.isEmpty && settings.auxWeight > 0 {
                // The mean over the mixture layers, so that aux_weight means the same at any depth.
                result.append(LossTerm("aux_\(name)_loss", scale(aux.dropFirst().reduce(aux[0], add), 1 / Float(aux.count)),
                                      weight: weight * settings.auxWeight))
            }
            if let snapshot, settings.kdWeight > 0 {
                let previous = noGrad { snapshot.logits(sequences.tokens) }
                let tokens = sequences.tokens.mask?.map { $0 ? Float(1) : 0 }
                result.append(LossTerm("kd_\(name)_loss", klDivergence(student: logits, teacher: previous, temperature: 1, weights: tokens),
                                      weight: weight * settings.kdWeight))
            }
        }
        terms(of: batch.qa, name: "qa", weight: 1)
        if let lm = batch.lm { terms(of: lm, name: "lm", weight: training.lmWeight) }
        return result
    }

    /// l2_weight · Σ ‖θ − θ_prev‖² over the shared parameters that train.
    public func penalty(_ model: DecoderLM) -> LossTerm? {
        guard settings.l2Weight > 0, !anchors.isEmpty else { return nil }
        let entries = model.namedParameters.compactMap { name, p -> (Tensor, [Float], [Float])? in
            guard p.requiresGrad, let anchor = anchors[name] else { return nil }
            return (p, anchor.scalars, [Float](repeating: 1, count: p.count))
        }
        return entries.isEmpty ? nil : LossTerm("l2_penalty", quadraticPenalty(entries, strength: settings.l2Weight))
    }

    /// Drops the snapshot and measures the router's load on every task's test data.
    public mutating func finishStage(_ context: StageContext) throws {
        snapshot = nil; anchors = [:]
        guard !context.model.mixtureOfExpertsLayers.isEmpty else { return }
        let share = context.stream.map { routerLoad(on: $0, context: context) }
        loads.removeAll { $0.after == context.task.name }
        loads.append(Load(after: context.task.name, tasks: context.stream.map(\.name), share: share))
    }

    /// Shares of up to 64 test examples' expert choices, summed over the mixture layers.
    private func routerLoad(on task: TaskData, context: StageContext) -> [Double] {
        let model = context.model, layers = model.mixtureOfExpertsLayers
        var counts = [Int](repeating: 0, count: layers[0].experts.count)
        for example in task.test.prefix(64) {  // one sequence per pass: no padding tokens in the counts
            let output = noGrad { model.forward(TokenBatch(rows: [context.item(example, gen: nil).qa.tokens])) }
            for (_, load) in output.routerLoads { for (e, n) in load.enumerated() { counts[e] += n } }
        }
        let total = Double(max(1, counts.reduce(0, +)))
        return counts.map { Double($0) / total }
    }

    struct State: Codable {
        var growth: [Growth]
        var loads: [Load]
    }

    public func savedState() -> MethodState {
        MethodState(json: (try? JSONEncoder().encode(State(growth: growth, loads: loads))).map { String(decoding: $0, as: UTF8.self) })
    }

    public mutating func restore(_ state: MethodState) throws {
        guard let json = state.json else { return }
        let saved = try JSONDecoder().decode(State.self, from: Data(json.utf8))
        growth = saved.growth; loads = saved.loads
    }

    public var statistics: MethodStatistics {
        let encoded = (try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(State(growth: growth, loads: loads)))) ?? .null
        guard case .object(let fields) = encoded else { return MethodStatistics() }
        return MethodStatistics(details: ["mixture_of_experts": .object(fields)])
    }
}

/// The frozen snapshot of the model as the previous stage left it, kept in the run directory as
/// `lifelong_moe/before-stage<N>.safetensors` (its replaced layers in the metadata) so that a
/// stage resumed mid-way distils from the same model. Written once per stage, atomically.
struct LifelongMoESnapshot {
    static let folder = "lifelong_moe"
    let context: StageContext

    var name: String { "before-stage\(context.index + 1).safetensors" }

    /// At a stage's start, a copy of the model (written to the run directory); when the stage is
    /// resumed mid-way, the copy written at its start.
    func previousModel(resumed: Bool) throws -> DecoderLM {
        let store = context.artefacts(Self.folder)
        if resumed, let store {
            // The model is mid-stage now: copying it would distil from the wrong model.
            let file = try store.path(name)
            guard store.contains(name) else {
                throw FormatError(file: file, "missing: the stage is resumed mid-way and needs the snapshot written at its start")
            }
            return try load(file)
        }
        let copy = try context.model.copy()
        if let store {
            store.removeAll()  // the previous stage's snapshot
            let layers = String(decoding: try JSONEncoder().encode(copy.layerRecords), as: UTF8.self)
            try SafetensorsFile.write(copy.namedParameters, metadata: ["layers": layers], to: try store.fileToWrite(name))
        }
        return copy
    }

    private func load(_ file: String) throws -> DecoderLM {
        let safetensors = try SafetensorsFile(path: file)
        let records: [LayerRecord]
        do { records = try JSONDecoder().decode([LayerRecord].self, from: Data((safetensors.metadata["layers"] ?? "").utf8)) } catch {
            throw FormatError(file: file, "the metadata's `layers` is not a list of layer records: \(error)")
        }
        let model = DecoderLM(config: context.model.config, seed: nil)
        try model.install(records)
        try TensorCheckpoint(files: [safetensors]).load(into: model.namedParameters, optionalPrefix: "", ignoring: [])
        for p in model.parameters { p.requiresGrad = false }
        return model
    }
}

extension LifelongMoE {
    /// `method: {name: lifelong_moe, experts: 2, experts_per_stage: 2, every: 2, top_k: 2, aux_weight: 0.01,
    /// kd_weight: 1.0, l2_weight: 0, capacity_factor: null, gating: mixtral | gshard, expert_init: dense | mean,
    /// freeze: true, dense: false}`
    public struct Config: MethodConfig {
        public var name = "lifelong_moe"
        public var settings = Settings()

        enum CodingKeys: String, CodingKey {
            case name, experts, every, freeze, dense
            case expertsPerStage = "experts_per_stage", topK = "top_k", auxWeight = "aux_weight", kdWeight = "kd_weight"
            case l2Weight = "l2_weight", capacityFactor = "capacity_factor", expertInit = "expert_init", gating
        }

        public init(name: String, section s: ConfigSection) throws {
            var v = Settings()
            v.experts = try s.int("experts", in: 1...1024) ?? v.experts
            v.expertsPerStage = try s.int("experts_per_stage", in: 1...1024) ?? v.expertsPerStage
            v.every = try s.int("every", in: 1...1024) ?? v.every
            v.topK = try s.int("top_k", in: 1...64) ?? v.topK
            v.auxWeight = try s.float("aux_weight", in: 0...1e6) ?? v.auxWeight
            v.kdWeight = try s.float("kd_weight", in: 0...1e6) ?? v.kdWeight
            v.l2Weight = try s.float("l2_weight", in: 0...1e12) ?? v.l2Weight
            v.capacityFactor = try s.float("capacity_factor", in: 0.01...1024)
            v.gating = try s.choice("gating", Gating.self, allowed: Gating.allCases) ?? v.gating
            v.expertInit = try s.choice("expert_init", ExpertInitialization.self, allowed: ExpertInitialization.allCases) ?? v.expertInit
            v.freeze = try s.bool("freeze") ?? v.freeze
            v.dense = try s.bool("dense") ?? v.dense
            guard v.dense || v.topK <= v.experts else {
                throw s.error("top_k", "\(v.topK) is more than the \(v.experts) experts a mixture starts with")
            }
            guard v.gating == .mixtral || v.topK == 2 else { throw s.error("gating", "gshard routes the top 2 experts; top_k is \(v.topK)") }
            settings = v
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            let v = settings
            try c.encode(name, forKey: .name); try c.encode(v.experts, forKey: .experts)
            try c.encode(v.expertsPerStage, forKey: .expertsPerStage); try c.encode(v.every, forKey: .every)
            try c.encode(v.topK, forKey: .topK); try c.encode(yamlNumber(v.auxWeight), forKey: .auxWeight)
            try c.encode(yamlNumber(v.kdWeight), forKey: .kdWeight); try c.encode(yamlNumber(v.l2Weight), forKey: .l2Weight)
            try c.encode(v.capacityFactor.map(yamlNumber), forKey: .capacityFactor)
            try c.encode(v.gating, forKey: .gating); try c.encode(v.expertInit, forKey: .expertInit); try c.encode(v.freeze, forKey: .freeze); try c.encode(v.dense, forKey: .dense)
        }

        public func makeMethod() -> any LifelongMethod { LifelongMoE(settings: settings) }
    }
}
