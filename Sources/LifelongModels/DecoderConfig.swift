import Foundation
import LifelongFormats

/// The shape of a decoder-only transformer, for both families it covers:
/// GPT-2 (learned positions, LayerNorm, tanh-GELU MLP, biases, Conv1D layout, fused q|k|v) and
/// Llama (RoPE, RMSNorm, SwiGLU MLP, grouped-query attention, no biases, optional untied head).
public struct DecoderConfig: Codable, Equatable, Sendable {
    public enum Architecture: String, Codable, Sendable { case gpt2, llama }

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
        self.normEpsilon = normEpsilon ?? (architecture == .gpt2 ? 1e-5 : 1e-6)
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
        try size("vocabulary size", vocabSize, limits.vocabulary)
        try size("hidden size", hiddenSize, limits.hidden)
        try size("layer count", layerCount, limits.layers)
        try size("attention head count", headCount, limits.heads)
        try size("key/value head count", kvHeadCount, limits.heads)
        try size("intermediate size", intermediateSize, limits.intermediate)
        try size("max positions", maxPositions, limits.positions)
        try check(hiddenSize % headCount == 0, "hidden size \(hiddenSize) is not a multiple of \(headCount) heads")
        try check(headCount % kvHeadCount == 0, "\(headCount) heads are not a multiple of \(kvHeadCount) kv heads")
        try check(architecture == .gpt2 || headDim % 2 == 0, "RoPE needs an even head size, got \(headDim)")
        try check(normEpsilon.isFinite && normEpsilon > 0 && normEpsilon < 1, "norm epsilon must be in (0, 1), not \(normEpsilon)")
        try check(ropeTheta.isFinite && (1...1e12).contains(ropeTheta), "RoPE base must be in 1…1e12, not \(ropeTheta)")
    }

    /// A lower bound on the model's parameter count (embedding, attention and feed-forward matrices;
    /// every variant has at least these), to compare with the values a checkpoint holds before the
    /// model is allocated: a config that describes more than the file holds is refused.
    public var minimumParameterCount: Int {
        let d = hiddenSize, positions = architecture == .gpt2 ? maxPositions * d : 0
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

    /// Reads a Hugging Face `config.json` (model_type "gpt2" or "llama").
    public static func huggingFace(configAt path: String) throws -> DecoderConfig {
        let json = try JSONFields(contentsOf: path)
        let limits = Self.limits
        func size(_ key: String, _ limit: Int) throws -> Int { try json.int(key, in: 1...limit) }
        let modelType = try json.string("model_type") ?? ""
        let config: DecoderConfig
        switch modelType {
        case "gpt2":
            if let act = try json.string("activation_function"), act != "gelu_new" {
                throw FormatError(file: path, "activation_function '\(act)' is not supported (GPT-2 uses gelu_new)")
            }
            let hidden = try size("n_embd", limits.hidden)
            config = DecoderConfig(
                architecture: .gpt2, vocabSize: try size("vocab_size", limits.vocabulary), hiddenSize: hidden,
                layerCount: try size("n_layer", limits.layers), headCount: try size("n_head", limits.heads),
                intermediateSize: try json.optionalInt("n_inner", in: 1...limits.intermediate) ?? 4 * hidden,
                maxPositions: try size("n_positions", limits.positions),
                normEpsilon: try json.float("layer_norm_epsilon", default: 1e-5, in: 1e-30...0.5),
                tieWordEmbeddings: try json.bool("tie_word_embeddings", default: true))
        case "llama":
            let heads = try size("num_attention_heads", limits.heads)
            // transformers ≥ 5 nests the RoPE base in `rope_parameters`; older files have `rope_theta`.
            var ropeTheta = try json.float("rope_theta", default: 10_000, in: 1...1e12)
            if let rope = json.values["rope_parameters"] as? [String: Any] {
                let nested = JSONFields(path: path, values: rope)
                if let type = try nested.string("rope_type"), type != "default" {
                    throw FormatError(file: path, "rope_parameters.rope_type '\(type)' is not supported (only default RoPE)")
                }
                ropeTheta = try nested.float("rope_theta", default: ropeTheta, in: 1...1e12)
            }
            if let scaling = json.values["rope_scaling"], !(scaling is NSNull) {
                throw FormatError(file: path, "rope_scaling is not supported")
            }
            let hidden = try size("hidden_size", limits.hidden)
            if let headDim = try json.optionalInt("head_dim", in: 1...limits.hidden), headDim * heads != hidden {
                throw FormatError(file: path, "head_dim \(headDim) × \(heads) heads ≠ hidden_size (not supported)")
            }
            if let hiddenAct = try json.string("hidden_act"), hiddenAct != "silu" {
                throw FormatError(file: path, "hidden_act '\(hiddenAct)' is not supported (Llama uses silu)")
            }
            config = DecoderConfig(
                architecture: .llama, vocabSize: try size("vocab_size", limits.vocabulary), hiddenSize: hidden,
                layerCount: try size("num_hidden_layers", limits.layers), headCount: heads,
                kvHeadCount: try json.optionalInt("num_key_value_heads", in: 1...limits.heads) ?? heads,
                intermediateSize: try size("intermediate_size", limits.intermediate),
                maxPositions: try size("max_position_embeddings", limits.positions),
                normEpsilon: try json.float("rms_norm_eps", default: 1e-6, in: 1e-30...0.5),
                ropeTheta: ropeTheta,
                tieWordEmbeddings: try json.bool("tie_word_embeddings", default: false))
        default:
            throw FormatError(file: path, "model_type '\(modelType)' is not a supported decoder (gpt2, llama)")
        }
        do { try config.validate() } catch let error as FormatError {
            throw FormatError(file: path, error.message)
        }
        return config
    }
}
