import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels

/// SLM (Peng et al., ICLR 2024): a frozen backbone; each task owns a few *slots*, a key in a
/// sentence encoder's space plus a low-rank increment of every targeted projection; an example
/// retrieves its most similar slots and the model runs with their weighted increments (JARe).
/// No replay, no shared trainable weight, no task id at test time. ../shared/docs/METHODS.md §3.
///
/// Stage t: (1) the task's queries are embedded and its keys trained (DTKR) and frozen;
/// (2) only the task's slots train, each example mixing the top-k of the task's own slots.
/// Evaluation retrieves among every slot of every task, per example (each row of a decoding
/// batch applies its own mixture).
///
/// Vocabulary: with the backbone frozen no new embedding row can learn, so answers are marked
/// by a textual separator that is one token of the base vocabulary (`separator`) instead of
/// `__ans__`, and end with the base vocabulary's end-of-text token (as every method here).
public struct SLM: LifelongMethod {
    public enum Retrieval: String, Codable, Sendable, CaseIterable {
        /// Each example its own slots (the default).
        case perExample = "per_example"
        /// One mixture per batch from the batch's mean similarity (the official code).
        case perBatch = "per_batch"
    }

    public enum KeyInitialization: String, Codable, Sendable, CaseIterable {
        case orthogonal
        case shardMeans = "shard_means"
    }

    public struct KeySettings: Codable, Sendable, Equatable {
        public var initialization = KeyInitialization.orthogonal
        public var epochs = 20
        /// Queries per AdamW step: small, so that a task of a few dozen examples still takes
        /// enough steps for its keys to leave their random start.
        public var batchSize = 16
        public var learningRate: Float = 1e-3
        /// Share of the similarities hidden when a query chooses its keys.
        public var maskRate: Float = 0.25
        enum CodingKeys: String, CodingKey {
            case initialization, epochs, batchSize = "batch_size", learningRate = "learning_rate", maskRate = "mask_rate"
        }
        public init() {}
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(initialization, forKey: .initialization); try c.encode(epochs, forKey: .epochs)
            try c.encode(batchSize, forKey: .batchSize)
            try c.encode(yamlNumber(learningRate), forKey: .learningRate); try c.encode(yamlNumber(maskRate), forKey: .maskRate)
        }
    }

    public struct Settings: Sendable, Equatable {
        public var slotsPerTask = 4
        public var rank = 8
        public var groups = 6
        /// Slots each example mixes (the top k by similarity).
        public var topK = 2
        /// Projections that get increments: names' endings (`o_proj`; `attn.c_proj` for GPT-2).
        public var targets = ["o_proj"]
        /// Multiplies every increment (nil: none, as the official code).
        public var scale: Float?
        public var keys = KeySettings()
        public var retrieval = Retrieval.perExample
        /// Ablation: each test example uses its true task's slots (separates retrieval errors from
        /// what the slots learnt). Not SLM proper: it is given the task id.
        public var oracleTask = false
        public var separator = " =>"
        /// A pulled model name or a sentence-transformers directory.
        public var encoder = "minilm-l6"
        public init() {}
    }

    public let settings: Settings
    public var name: String { settings.oracleTask ? "slm-oracle" : "slm" }
    public var answerSeparator: String? { settings.separator }
    /// The tasks that own slots, in order: task i owns slots i·S ..< (i+1)·S.
    public private(set) var tasks: [String] = []
    /// Keys of every slot, [slots × width], task after task.
    public private(set) var keys: [Float] = []
    /// Parameters of one slot's increments over all its layers (Σ r·(in + out)).
    private var incrementParametersPerSlot = 0
    /// Tokens of each learnt task's training sequences: what replaying its real examples would store.
    private var trainingTokens: [Int] = []
    private let encoder: QueryEncoder
    private let retrievalRecord = RetrievalRecord()
    /// The current stage's query embeddings, by training example.
    private var stageQueries: [Float] = []

    public init(settings: Settings = Settings()) {
        self.settings = settings
        encoder = QueryEncoder(location: settings.encoder)
    }

    var slotCount: Int { tasks.count * settings.slotsPerTask }
    private var width: Int { keys.count / max(slotCount, 1) }
    func slots(ofTask i: Int) -> Range<Int> { (i * settings.slotsPerTask)..<((i + 1) * settings.slotsPerTask) }

    public mutating func planStage(_ context: StageContext) throws -> StagePlan {
        let task = context.task
        let layers = try installLayers(context.model)
        incrementParametersPerSlot = layers.reduce(0) { $0 + $1.rank * ($1.inFeatures + $1.outFeatures) }
        let width = try encoder.width
        guard width % settings.groups == 0 else {
            throw FormatError(file: "method.groups", "\(settings.groups) groups do not divide the encoder's \(width) dimensions")
        }
        stageQueries = try encoder.embed(task.train.map(SLMRetrieval.queryText))
        let items = context.resumedItems ?? task.train.enumerated().map { i, example in
            var item = context.item(example, gen: nil)
            item.example = i
            return item
        }
        if !tasks.contains(task.name) {  // keys first (a resumed stage has them in the method state)
            context.report(.message("  slm: training \(settings.slotsPerTask) keys of \(task.name) on \(task.train.count) queries"))
            keys += try SLMRetrieval.trainKeys(queries: stageQueries, width: width, slots: settings.slotsPerTask,
                                                settings: settings.keys, groups: settings.groups, topK: settings.topK,
                                                seed: context.seed &+ 7, shouldStop: context.shouldStop)
            tasks.append(task.name)
            trainingTokens.append(items.reduce(0) { $0 + $1.qa.tokens.count })
        }
        guard tasks.last == task.name else { throw FormatError(file: "method", "slm: task '\(task.name)' was learnt before") }
        var rng: SeededGenerator? = SeededGenerator(seed: context.seed &+ 11)
        for layer in layers where layer.slotCount < slotCount {  // a resumed stage's slots are in the checkpoint
            layer.addSlots(slotCount - layer.slotCount, rng: &rng)
        }
        return StagePlan(items: items, trainable: layers.flatMap { $0.slotParameters(slots(ofTask: tasks.count - 1)) })
    }

    /// The low-rank mixture layers on the targeted projections (installed at the first stage).
    private func installLayers(_ model: DecoderLM) throws -> [LowRankMixtureLinear] {
        let wrapped = try model.installLowRankMixtures(targets: Set(settings.targets), rank: settings.rank)
        guard !wrapped.isEmpty else {
            let names = Set(model.modules(of: (any LinearLayer).self).map { $0.path.split(separator: ".").suffix(2).joined(separator: ".") }).sorted()
            throw FormatError(file: "method.targets", "\(settings.targets) match no projection of this model; its projections end with \(names.joined(separator: ", "))")
        }
        let layers = model.lowRankMixtureLayers
        if let other = layers.first(where: { $0.rank != settings.rank }) {
            throw FormatError(file: "method.rank", "the run's layers have rank \(other.rank), the config says \(settings.rank)")
        }
        return layers
    }

    /// Training: each row mixes the top-k of the current task's slots by its query's similarity.
    public func objective(_ batch: TrainingBatch, model: DecoderLM, settings: TrainingSettings) -> [LossTerm] {
        let own = slots(ofTask: tasks.count - 1), width = self.width
        let queries = batch.qa.itemIndices.flatMap { item -> ArraySlice<Float> in
            let example = batch.items[item].example!
            return stageQueries[(example * width)..<((example + 1) * width)]
        }
        let mixture = Conditioning(slotWeights: weights(similarity: similarity(queries), candidates: own))
        return [LossTerm("qa_loss", batch.qa.crossEntropyLoss(model, conditioning: mixture))]
    }

    /// Grouped cosine similarity of each query ([n × width]) with every slot's key, [n × slots].
    func similarity(_ queries: [Float]) -> [Float] {
        noGrad {
            groupedCosineSimilarity(queries: queries, keys: Tensor(keys, shape: [slotCount, width]), groups: settings.groups).scalars
        }
    }

    /// One row of `slotCount` weights per row of `similarity`: the top-k among `candidates`,
    /// times `settings.scale`.
    func weights(similarity: [Float], candidates: Range<Int>) -> [Float] {
        let slots = slotCount
        var result: [Float] = []
        result.reserveCapacity(similarity.count)
        for n in 0..<(similarity.count / slots) {
            result += SLMRetrieval.weights(similarity: similarity[(n * slots)..<((n + 1) * slots)], candidates: candidates,
                                           topK: settings.topK, slotCount: slots)
        }
        if let scale = settings.scale { result = result.map { $0 * scale } }
        return result
    }

    /// Embeds every test query of the stream (once per run), then answers with retrieval.
    public func predictor(for model: DecoderLM, stream: [TaskData]) throws -> any AnswerPredictor {
        retrievalRecord.begin(tasks: stream.map(\.name))
        guard slotCount > 0 else { return model }
        let texts = stream.flatMap { $0.test.map(SLMRetrieval.queryText) }
        let queries = try encoder.embed(texts)
        let byText = Dictionary(zip(texts, (0..<texts.count).map { queries[($0 * width)..<(($0 + 1) * width)] }), uniquingKeysWith: { a, _ in a })
        return SLMPredictor(method: self, model: model, queries: byText)
    }

    struct State: Codable {
        var tasks: [String]
        var retrievalTasks: [String]
        var confusion: [[Int]]
        var incrementParametersPerSlot: Int
        var trainingTokens: [Int]
        enum CodingKeys: String, CodingKey {
            case tasks, confusion, retrievalTasks = "retrieval_tasks", incrementParametersPerSlot = "increment_parameters_per_slot"
            case trainingTokens = "training_tokens"
        }
    }

    public func savedState() -> MethodState {
        let state = State(tasks: tasks, retrievalTasks: retrievalRecord.tasks, confusion: retrievalRecord.confusion,
                          incrementParametersPerSlot: incrementParametersPerSlot, trainingTokens: trainingTokens)
        return MethodState(tensors: keys.isEmpty ? [] : [("keys", keys)],
                           json: (try? JSONEncoder().encode(state)).map { String(decoding: $0, as: UTF8.self) })
    }

    public mutating func restore(_ state: MethodState) throws {
        guard let json = state.json else { return }
        let saved = try JSONDecoder().decode(State.self, from: Data(json.utf8))
        tasks = saved.tasks
        keys = state.tensors.first { $0.name == "keys" }?.values ?? []
        guard keys.isEmpty == tasks.isEmpty, keys.count % max(1, slotCount) == 0 else {
            throw FormatError(file: "method.safetensors", "slm: \(keys.count) key values for \(slotCount) slots")
        }
        retrievalRecord.tasks = saved.retrievalTasks
        retrievalRecord.confusion = saved.confusion
        incrementParametersPerSlot = saved.incrementParametersPerSlot
        trainingTokens = saved.trainingTokens
    }

    public var statistics: MethodStatistics {
        let record = retrievalRecord, perTask = settings.slotsPerTask * (incrementParametersPerSlot + width)
        return MethodStatistics(details: [
            "retrieval": .object([
                "tasks": .array(record.tasks.map { .string($0) }),
                "confusion": .array(record.confusion.map { .array($0.map { .number(Double($0)) }) }),
                "accuracy": .array(record.accuracy.map { $0.map(JSONValue.number) ?? .null }),
                "mode": .string(settings.oracleTask ? "oracle_task" : settings.retrieval.rawValue),
            ]),
            "storage": .object([
                "parameters_per_task": .number(Double(perTask)),
                "parameters_total": .number(Double(perTask * tasks.count)),
                "key_parameters_per_task": .number(Double(settings.slotsPerTask * width)),
                // Real replay of every training example would store this many token ids per task.
                "training_tokens_per_task": .array(trainingTokens.map { .number(Double($0)) }),
            ]),
        ])
    }
}

/// Answers test prompts with SLM's retrieval: each example's query embedding chooses its slots,
/// and one batched decoding runs every row with its own mixture.
struct SLMPredictor: AnswerPredictor {
    let method: SLM
    let model: DecoderLM
    let queries: [String: ArraySlice<Float>]

    func answers(prompts: [[Int]], examples: ArraySlice<Example>, of task: TaskData, options: GenerationOptions) throws -> [[Int]] {
        let conditioning = Conditioning(slotWeights: mixture(examples: examples, task: task))
        return try model.generate(prompts: prompts, options: options, conditioning: conditioning)
    }

    private func mixture(examples: ArraySlice<Example>, task: TaskData) -> [Float] {
        let slots = method.slotCount
        var similarity = method.similarity(examples.flatMap { queries[SLMRetrieval.queryText($0)]! })
        var candidates = 0..<slots
        if method.settings.oracleTask {
            guard let own = method.tasks.firstIndex(of: task.name) else {
                return [Float](repeating: 0, count: examples.count * slots)  // not learnt yet: the backbone alone
            }
            candidates = method.slots(ofTask: own)
        } else if method.settings.retrieval == .perBatch {
            // The official code: the batch's mean similarity chooses one mixture for every row.
            var mean = [Float](repeating: 0, count: slots)
            for n in 0..<examples.count { for j in 0..<slots { mean[j] += similarity[n * slots + j] / Float(examples.count) } }
            similarity = Array((0..<examples.count).map { _ in mean }.joined())
        }
        let weights = method.weights(similarity: similarity, candidates: candidates)
        method.recordRetrieval(weights: weights, rows: examples.count, trueTask: task.name)
        return weights
    }
}

extension SLM {
    /// Counts, for the retrieval record, which task's slot got each row's largest weight.
    func recordRetrieval(weights: [Float], rows: Int, trueTask: String) {
        guard let truth = retrievalRecord.tasks.firstIndex(of: trueTask) else { return }
        let slots = slotCount
        for n in 0..<rows {
            let row = weights[(n * slots)..<((n + 1) * slots)]
            guard let top = SLMRetrieval.topIndices(row, among: 0..<slots, count: 1).first,
                  let owner = retrievalRecord.tasks.firstIndex(of: tasks[top / settings.slotsPerTask]) else { continue }
            retrievalRecord.confusion[truth][owner] += 1
        }
    }
}

extension SLM {
    /// `method: {name: slm, slots_per_task: 4, rank: 8, groups: 6, retrieved_slots: 2, targets: [o_proj],
    /// scale: null, keys: {initialization, epochs, learning_rate, mask_rate}, retrieval:
    /// per_example | per_batch, oracle_task: false, separator: " =>", encoder: minilm-l6}`
    public struct Config: MethodConfig {
        public var name = "slm"
        public var settings = Settings()
        /// Training always retrieves among the current task's slots: these two act at evaluation only.
        public static let evaluationKeys: Set<String> = ["oracle_task", "retrieval"]

        enum CodingKeys: String, CodingKey {
            case name, rank, groups, targets, scale, keys, retrieval, separator, encoder
            case slotsPerTask = "slots_per_task", topK = "retrieved_slots", oracleTask = "oracle_task"
        }

        public init(name: String, section s: ConfigSection) throws {
            var v = Settings()
            v.slotsPerTask = try s.int("slots_per_task", in: 1...1024) ?? v.slotsPerTask
            v.rank = try s.int("rank", in: 1...4096) ?? v.rank
            v.groups = try s.int("groups", in: 1...4096) ?? v.groups
            // Not `top_k`, which is LAMOL's sampling key: `--set method.name=slm` on a LAMOL config
            // must not turn a top-20 sampler into 20 retrieved slots.
            v.topK = try s.int("retrieved_slots", in: 1...1024) ?? v.topK
            v.targets = try s.strings("targets") ?? v.targets
            v.scale = try s.float("scale", in: 1e-6...1e6)
            v.retrieval = try s.choice("retrieval", Retrieval.self, allowed: Retrieval.allCases) ?? v.retrieval
            v.oracleTask = try s.bool("oracle_task") ?? v.oracleTask
            v.separator = try s.string("separator") ?? v.separator
            v.encoder = try s.string("encoder") ?? v.encoder
            if let k = try s.section("keys") {
                v.keys.initialization = try k.choice("initialization", KeyInitialization.self, allowed: KeyInitialization.allCases) ?? v.keys.initialization
                v.keys.epochs = try k.int("epochs", in: 0...100_000) ?? v.keys.epochs
                v.keys.batchSize = try k.int("batch_size", in: 1...1_000_000) ?? v.keys.batchSize
                v.keys.learningRate = try k.float("learning_rate", in: 1e-12...10) ?? v.keys.learningRate
                v.keys.maskRate = try k.float("mask_rate", in: 0...0.99) ?? v.keys.maskRate
                try k.finish()
            }
            guard !v.separator.isEmpty else { throw s.error("separator", "must not be empty") }
            settings = v
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            let v = settings
            try c.encode(name, forKey: .name); try c.encode(v.slotsPerTask, forKey: .slotsPerTask)
            try c.encode(v.rank, forKey: .rank); try c.encode(v.groups, forKey: .groups); try c.encode(v.topK, forKey: .topK)
            try c.encode(v.targets, forKey: .targets); try c.encode(v.scale.map(yamlNumber), forKey: .scale)
            try c.encode(v.keys, forKey: .keys); try c.encode(v.retrieval, forKey: .retrieval)
            try c.encode(v.oracleTask, forKey: .oracleTask); try c.encode(v.separator, forKey: .separator)
            try c.encode(v.encoder, forKey: .encoder)
        }

        public func makeMethod() -> any LifelongMethod { SLM(settings: settings) }
    }
}
