import Foundation
import LifelongFormats

/// The shape of a decoder-only transformer of any family: its sizes, and the family
/// (`architecture`) that says what its blocks are made of (see `DecoderFamily`).
public struct DecoderConfig: Codable, Equatable, Sendable {
    /// A family's name (`gpt2`, `llama`, `qwen2`: the `model_type` of its `config.json`); each
    /// family file declares its own as a static member.
    public struct Architecture: RawRepresentable, Codable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
    }

    public var architecture: Architecture
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var normEpsilon: Float
    public var ropeTheta: Float
    public var tieWordEmbeddings: Bool

    public var headDim: Int { hiddenSize / headCount }

    /// The family that builds this model's layers. (Every `Architecture` value a config can hold
    /// has been checked by `validate()` or is a family's own static member.)
    public var family: any DecoderFamily.Type {
        guard let family = DecoderFamilies.named(architecture.rawValue) else {
            preconditionFailure("no model family '\(architecture.rawValue)' (the families are \(DecoderFamilies.names))")
        }
        return family
    }

    /// Whether positions are a learned table, so `maxPositions` is a hard limit (GPT-2); rotary
    /// positions (Llama, Qwen2) have none.
    public var hasLearnedPositions: Bool { family.learnedPositions }

    public init(architecture: Architecture, vocabSize: Int, hiddenSize: Int, layerCount: Int, headCount: Int,
                kvHeadCount: Int? = nil, intermediateSize: Int? = nil, maxPositions: Int = 1024,
                normEpsilon: Float? = nil, ropeTheta: Float = 10_000, tieWordEmbeddings: Bool = true) {
        self.architecture = architecture
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount ?? headCount
        self.intermediateSize = intermediateSize ?? 4 * hiddenSize
        self.maxPositions = maxPositions
        self.normEpsilon = normEpsilon ?? DecoderFamilies.named(architecture.rawValue)?.defaultNormEpsilon ?? 1e-6
        self.ropeTheta = ropeTheta
        self.tieWordEmbeddings = tieWordEmbeddings
    }

    /// The largest sizes a config may give: far beyond any model this engine can train on a
    /// machine, yet small enough that no product of them overflows or asks for terabytes before a
    /// checkpoint's tensors are compared with them.
    public static let limits = (vocabulary: 1 << 22, hidden: 1 << 16, layers: 1024, heads: 1024,
                                intermediate: 1 << 20, positions: 1 << 20)

    /// Checks that the numbers describe a buildable model; the message names the field.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw FormatError(file: "config", message) }
        }
        func size(_ name: String, _ value: Int, _ limit: Int) throws {
            try check((1...limit).contains(value), "\(name) must be in 1…\(limit), not \(value)")
        }
        let limits = Self.limits
        try check(DecoderFamilies.named(architecture.rawValue) != nil,
                  "architecture '\(architecture.rawValue)' is not a model family (\(DecoderFamilies.names))")
        try size("vocabulary size", vocabSize, limits.vocabulary)
        try size("hidden size", hiddenSize, limits.hidden)
        try size("layer count", layerCount, limits.layers)
        try size("attention head count", headCount, limits.heads)
        try size("key/value head count", kvHeadCount, limits.heads)
        try size("intermediate size", intermediateSize, limits.intermediate)
        try size("max positions", maxPositions, limits.positions)
        try check(hiddenSize % headCount == 0, "hidden size \(hiddenSize) is not a multiple of \(headCount) heads")
        try check(headCount % kvHeadCount == 0, "\(headCount) heads are not a multiple of \(kvHeadCount) kv heads")
        try check(hasLearnedPositions || headDim % 2 == 0, "RoPE needs an even head size, got \(headDim)")
        try check(normEpsilon.isFinite && normEpsilon > 0 && normEpsilon < 1, "norm epsilon must be in (0, 1), not \(normEpsilon)")
        try check(ropeTheta.isFinite && (1...1e12).contains(ropeTheta), "RoPE base must be in 1…1e12, not \(ropeTheta)")
    }

    /// A lower bound on the model's parameter count (embedding, attention and feed-forward matrices;
    /// every variant has at least these), to compare with the values a checkpoint holds before the
    /// model is allocated: a config that describes more than the file holds is refused.
    public var minimumParameterCount: Int {
        let d = hiddenSize, positions = hasLearnedPositions ? maxPositions * d : 0
        return vocabSize * d + positions + layerCount * (2 * d * d + 2 * d * intermediateSize)
    }

    /// Refuses a config that needs more values than `file` holds (`elements`): sizes from metadata
    /// are checked against the tensors before anything is allocated.
    public func checkFits(elements: Int, file: String) throws {
        guard minimumParameterCount <= elements else {
            throw FormatError(file: file, "the config describes at least \(minimumParameterCount) parameters "
                              + "(\(layerCount) layers, hidden size \(hiddenSize), vocabulary \(vocabSize)); the file holds \(elements) values")
        }
    }

    /// Reads a Hugging Face `config.json` of any family (by its `model_type`).
    public static func huggingFace(configAt path: String) throws -> DecoderConfig {
        let json = try JSONFields(contentsOf: path)
        let modelType = try json.string("model_type") ?? ""
        guard let family = DecoderFamilies.named(modelType) else {
            throw FormatError(file: path, "model_type '\(modelType)' is not a supported decoder (\(DecoderFamilies.names))")
        }
        let config = try family.config(huggingFace: json)
        do { try config.validate() } catch let error as FormatError {
            throw FormatError(file: path, error.message)
        }
        return config
    }
}
