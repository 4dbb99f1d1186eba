import Foundation
import LifelongEngine
import LifelongModels

/// L2KD (Chuang, Su & Chen, EMNLP Findings 2020): LAMOL, plus, when task t starts, a teacher that
/// has learnt task t alone, from which the learner distils while it trains on task t (and LAMOL's
/// pseudo-samples of the earlier tasks). The teacher is then discarded. See
/// ../shared/docs/METHODS.md §2.
///
/// - `word`: on real examples of task t, the hard-label cross-entropy of the QA and the LM
///   sequence is replaced by T²·KL(softmax(z_teacher/T) ‖ softmax(z_student/T)) at the same target
///   positions. Pseudo-samples keep the hard-label loss.
/// - `seq`: the teacher greedily answers every training example of task t; those answers replace
///   the gold ones (in the QA and the LM sequence); LAMOL's losses.
/// - `seq_soft`: the `seq` targets plus Word-KD on them.
///
/// `distil_lm: false` (an ablation, not the paper's method) keeps LAMOL's hard-label loss on the LM
/// sequence and distils the QA sequence only: the LM sequence is what the learner samples its
/// pseudo-samples from, and the teacher's softened distributions there can make them worse.
///
/// Every target position weighs what it weighs in LAMOL, KD or not: a batch's QA loss is
/// Σ w·ℓ / Σ w over its target positions, with ℓ the hard cross-entropy on pseudo-samples and the
/// KD term on real examples, and LAMOL's ANS target weight (`answer_weight`) keeps its weight on
/// the KD term of the LM sequence: the teacher's distribution at that position is where a
/// learner learns to end the question, which LAMOL weights up for the same reason.
/// `loss_combination: sum` adds the two terms' means instead, as the official code does (see
/// `LossCombination`).
public struct L2KD: LifelongMethod {
    public enum Variant: String, Codable, Sendable, CaseIterable {
        case word, seq, seqSoft = "seq_soft"
        var distils: Bool { self != .seq }
        var replacesAnswers: Bool { self != .word }
    }

    /// How a batch's KD term (its real examples) and hard-label term (its pseudo-samples) add up.
    public enum LossCombination: String, Codable, Sendable, CaseIterable {
        /// Every target position weighs what it weighs in LAMOL: Σ w·ℓ / Σ w over the batch.
        case positions
        /// The official code's (`get_distil_losses`, `weighting=False`): the KD term's mean over the
        /// real examples' positions plus the hard-label mean over the pseudo-samples', so the
        /// pseudo-samples of a batch weigh as much as all its real examples together: replay counts
        /// more than in LAMOL, by a factor that grows with the batch size.
        case sum
    }

    public struct TeacherSettings: Encodable, Sendable, Equatable {
        /// Epochs and learning rate of a teacher's training (nil: the run's `training` values).
        public var epochs: Int?
        public var learningRate: Float?
        /// A directory of teachers trained elsewhere: `<from>/<task>/model.safetensors`.
        public var from: String?
        /// false: a teacher's files are deleted when the next stage starts (its stage's checkpoint
        /// is written by then, so it is never needed again), so at most one teacher is on disk. A
        /// SmolLM2-135M teacher is 0.5 GB; a five-task run keeps 2.6 GB otherwise. Teachers loaded
        /// with `from` are never deleted.
        public var keep = true
        enum CodingKeys: String, CodingKey { case epochs, learningRate = "learning_rate", from, keep }
        public init(epochs: Int? = nil, learningRate: Float? = nil, from: String? = nil, keep: Bool = true) {
            self.epochs = epochs; self.learningRate = learningRate; self.from = from; self.keep = keep
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(epochs, forKey: .epochs); try c.encodeIfPresent(learningRate.map(yamlNumber), forKey: .learningRate)
            try c.encodeIfPresent(from, forKey: .from)
            if !keep { try c.encode(keep, forKey: .keep) }  // the default is left out: older runs' configs stay equal
        }
    }

    /// What a teacher did, for `results.json`.
    package struct TeacherRecord: Codable, Sendable {
        public var task: String
        /// The teacher's score on its task's test set (the same decoding as the learner's evaluation).
        public var score: Double?
        /// Seq-KD: training examples whose teacher answer equals the gold one, and their number.
        public var answersEqualToGold: Int?
        public var answers: Int?
        enum CodingKeys: String, CodingKey { case task, score, answers, answersEqualToGold = "answers_equal_to_gold" }
    }

    public var lamol: LAMOL
    public var variant: Variant
    public var temperature: Float
    /// Word-KD on the LM sequence too (the paper's method); false keeps its hard-label loss.
    public var distilsLM = true
    public var lossCombination = LossCombination.positions
    public var teacherSettings: TeacherSettings
    package private(set) var teachers: [TeacherRecord] = []
    /// The current stage's teacher, in memory while the stage trains.
    private var teacher: DecoderLM?

    public var name: String { "l2kd-\(variant.rawValue)" }
    public static var artefactFolders: [String] { [LAMOL.samplesFolder, TeacherTrainer.folder] }

    public init(lamol: LAMOL = LAMOL(), variant: Variant = .word, temperature: Float = 2, teacher: TeacherSettings = TeacherSettings()) {
        self.lamol = lamol; self.variant = variant; self.temperature = temperature; self.teacherSettings = teacher
    }

    public mutating func planStage(_ context: StageContext) throws -> StagePlan {
        let task = context.task
        context.tokenizer.answerToken()  // ANS gets its id before the task token, as RunSession orders them
        let gen = lamol.gen(task.name, context.tokenizer)  // the task's token exists before the teacher is grown
        let realItems = task.train.map { context.item($0, gen: gen) }
        let trainer = TeacherTrainer(settings: teacherSettings)
        if !teacherSettings.keep { try trainer.removeEarlierTeachers(context) }
        let (teacher, trained) = try trainer.teacher(context, items: context.resumedItems == nil ? realItems : [])
        self.teacher = teacher
        defer { if !variant.distils { self.teacher = nil } }  // Seq-KD needs the teacher only for its answers
        if trained || !teachers.contains(where: { $0.task == task.name }) {
            teachers.removeAll { $0.task == task.name }
            let score = try context.evaluator.map { try $0.evaluate(teacher, on: task, seed: context.seed).score }
            teachers.append(TeacherRecord(task: task.name, score: score))
            context.report(.message("  l2kd: teacher of \(task.name) scores \(score.map { String(format: "%.1f", $0) } ?? "–")"))
        }
        var plan = try lamol.planStage(context)
        if context.resumedItems == nil && variant.replacesAnswers { try useTeacherAnswers(teacher, in: &plan, gen: gen, context: context) }
        return plan
    }

    /// Seq-KD: the task's real items (at the start of LAMOL's plan, in order) get the teacher's
    /// greedy answers (the gold one where the teacher answers nothing); counts the agreements.
    private mutating func useTeacherAnswers(_ teacher: DecoderLM, in plan: inout StagePlan, gen: Int, context: StageContext) throws {
        let task = context.task
        let answers = try teacherAnswers(teacher, examples: task.train, context: context)
        var equal = 0
        for (i, example) in task.train.enumerated() {
            let gold = context.tokenizer.encode(example.answers[0])
            if answers[i] == gold { equal += 1 }
            plan.items[i] = context.item(example, gen: gen, answer: answers[i].isEmpty ? gold : answers[i])
        }
        if let i = teachers.firstIndex(where: { $0.task == task.name }) {
            teachers[i].answersEqualToGold = equal; teachers[i].answers = task.train.count
        }
    }

    /// The teacher's greedy answer to each example (`c q ANS` → tokens before EOS), in batches.
    private func teacherAnswers(_ teacher: DecoderLM, examples: [Example], context: StageContext) throws -> [[Int]] {
        let tokenizer = context.tokenizer
        let longest = examples.flatMap(\.answers).map { tokenizer.encode($0).count }.max() ?? 8
        let cap = answerBudget(longest + 2, maxLength: context.settings.maxLength)
        let batchSize = context.evaluator?.batchSize ?? 64
        return try stride(from: 0, to: examples.count, by: batchSize).flatMap { start in
            let prompts = examples[start..<min(start + batchSize, examples.count)].map { example in
                contextQuestionTokens(example, tokenizer: tokenizer, maxLength: context.settings.maxLength - cap - 2) + [tokenizer.answerToken()]
            }
            return try teacher.generate(prompts: prompts, options: GenerationOptions(maxNewTokens: cap, strategy: .greedy,
                                                                                 stopTokens: [tokenizer.endOfExampleToken()]))
        }
    }

    public func objective(_ batch: TrainingBatch, model: DecoderLM, settings: TrainingSettings) -> [LossTerm] {
        guard variant.distils, let teacher else { return lamolObjective(batch, model: model, lmWeight: settings.lmWeight) }
        return Self.wordKDObjective(batch, model: model, teacher: teacher, temperature: temperature, lmWeight: settings.lmWeight,
                                    distilsLM: distilsLM, combination: lossCombination)
    }

    /// Word-KD's objective: on the QA sequences and (weighted λ) the LM sequences, KD terms at the
    /// target positions of real current-task items and hard-label terms at those of the others
    /// (with `distilsLM` false, hard-label terms on every LM sequence).
    public static func wordKDObjective(_ batch: TrainingBatch, model: DecoderLM, teacher: DecoderLM, temperature: Float,
                                       lmWeight: Float, distilsLM: Bool = true,
                                       combination: LossCombination = .positions) -> [LossTerm] {
        let isReal = { (item: Int) in batch.items[item].origin == .current }
        var terms = distilled(batch.qa, name: "qa", model: model, teacher: teacher, temperature: temperature, isReal: isReal,
                              weight: 1, combination: combination)
        if let lm = batch.lm {
            terms += distilled(lm, name: "lm", model: model, teacher: teacher, temperature: temperature,
                               isReal: distilsLM ? isReal : { _ in false }, weight: lmWeight, combination: combination)
        }
        return terms
    }

    /// The hard-label term on pseudo-samples and the KD term on real examples of one padded
    /// sequence batch, each a weighted mean over its own positions; with `.positions` each is
    /// weighted by its share of the target weight, so that their sum is the per-position weighted
    /// mean, with `.sum` each counts once.
    private static func distilled(_ sequences: PaddedSequences, name: String, model: DecoderLM, teacher: DecoderLM,
                                  temperature: Float, isReal: (Int) -> Bool, weight: Float,
                                  combination: LossCombination) -> [LossTerm] {
        let logits = model.logits(sequences.tokens)
        let hardTargets = sequences.targets(keepingItems: { !isReal($0) })
        var kdWeights = [Float](repeating: 0, count: sequences.targets.count)
        var (hardWeight, kdWeight): (Float, Float) = (0, 0)
        for (t, target) in sequences.targets.enumerated() where target != LAMOLSequences.ignore {
            if hardTargets[t] == LAMOLSequences.ignore {
                kdWeights[t] = sequences.weights[t]; kdWeight += sequences.weights[t]
            } else {
                hardWeight += sequences.weights[t]
            }
        }
        let total = hardWeight + kdWeight
        let weighted = { (part: Float) in combination == .sum || total == 0 ? weight : weight * (part / total) }
        var terms: [LossTerm] = []
        if hardWeight > 0 || kdWeight == 0 {
            terms.append(LossTerm("\(name)_loss", crossEntropy(logits, targets: hardTargets, weights: sequences.weights),
                                  weight: weighted(hardWeight)))
        }
        if kdWeight > 0 {
            let teacherLogits = noGrad { teacher.logits(sequences.tokens) }
            terms.append(LossTerm("kd_\(name)_loss", klDivergence(student: logits, teacher: teacherLogits, temperature: temperature,
                                                                  weights: kdWeights),
                                  weight: weighted(kdWeight)))
        }
        return terms
    }

    public mutating func finishStage(_ context: StageContext) throws {
        teacher = nil  // discarded: the next task has its own
    }

    struct State: Codable {
        var pseudoSamples: String?
        var teachers: [TeacherRecord]
        enum CodingKeys: String, CodingKey { case pseudoSamples = "pseudo_samples", teachers }
    }

    public func savedState() -> MethodState {
        let state = State(pseudoSamples: lamol.savedState().json, teachers: teachers)
        return MethodState(json: (try? JSONEncoder().encode(state)).map { String(decoding: $0, as: UTF8.self) })
    }

    public mutating func restore(_ state: MethodState) throws {
        guard let json = state.json else { return }
        let saved = try JSONDecoder().decode(State.self, from: Data(json.utf8))
        try lamol.restore(MethodState(json: saved.pseudoSamples))
        teachers = saved.teachers
    }

    public var statistics: MethodStatistics {
        let records = (try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(teachers))) ?? .null
        return MethodStatistics(pseudoSamples: lamol.pseudoSamples, details: ["teachers": records])
    }
}

extension L2KD {
    /// `method: {name: l2kd, variant: word | seq | seq_soft, temperature: 2, distil_lm: true,
    /// loss_combination: positions | sum, teacher: {epochs, learning_rate, from, keep}}` with
    /// LAMOL's keys alongside.
    public struct Config: MethodConfig {
        public var name = "l2kd"
        public var lamol = LAMOL.Config()
        public var variant = Variant.word
        public var temperature: Float = 2
        public var distilLM = true
        public var lossCombination = LossCombination.positions
        public var teacher = TeacherSettings()

        enum CodingKeys: String, CodingKey {
            case name, variant, temperature, distilLM = "distil_lm", lossCombination = "loss_combination", teacher
        }

        public init(name: String, section s: ConfigSection) throws {
            try lamol.read(s)
            guard !lamol.realReplay else { throw s.error("real_replay", "is not supported with l2kd") }
            variant = try s.choice("variant", Variant.self, allowed: Variant.allCases) ?? variant
            temperature = try s.float("temperature", in: 0.01...100) ?? temperature
            distilLM = try s.bool("distil_lm") ?? distilLM
            lossCombination = try s.choice("loss_combination", LossCombination.self, allowed: LossCombination.allCases) ?? lossCombination
            if let t = try s.section("teacher") {
                teacher.epochs = try t.int("epochs", in: 1...10_000)
                teacher.learningRate = try t.float("learning_rate", in: 1e-12...10)
                teacher.from = try t.string("from")
                teacher.keep = try t.bool("keep") ?? teacher.keep
                try t.finish()
            }
        }

        public func encode(to encoder: Encoder) throws {
            var copy = lamol
            copy.name = name
            try copy.encode(to: encoder)  // `name` and LAMOL's keys, then L2KD's, in one mapping
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(variant, forKey: .variant); try c.encode(yamlNumber(temperature), forKey: .temperature)
            try c.encode(distilLM, forKey: .distilLM)
            // Written only when not the default, so that runs made before the key existed resume.
            if lossCombination != .positions { try c.encode(lossCombination, forKey: .lossCombination) }
            try c.encode(teacher, forKey: .teacher)
        }

        public func makeMethod() -> any LifelongMethod {
            var method = L2KD(lamol: lamol.method, variant: variant, temperature: temperature, teacher: teacher)
            method.distilsLM = distilLM
            method.lossCombination = lossCombination
            return method
        }
    }
}
