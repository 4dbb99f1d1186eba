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

    /// Checks that the numbers describe a buildable model; the message names the field.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw FormatError(file: "config", message) }
        }
        try check(vocabSize > 0 && hiddenSize > 0 && layerCount > 0 && headCount > 0, "sizes must be positive")
        try check(hiddenSize % headCount == 0, "hidden size \(hiddenSize) is not a multiple of \(headCount) heads")
        try check(kvHeadCount > 0 && headCount % kvHeadCount == 0, "\(headCount) heads are not a multiple of \(kvHeadCount) kv heads")
        try check(architecture == .gpt2 || headDim % 2 == 0, "RoPE needs an even head size, got \(headDim)")
        try check(maxPositions > 0 && intermediateSize > 0, "max positions and intermediate size must be positive")
    }

    /// Reads a Hugging Face `config.json` (model_type "gpt2" or "llama").
    public static func huggingFace(configAt path: String) throws -> DecoderConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FormatError(file: path, "cannot read: \(error.localizedDescription)")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FormatError(file: path, "not a JSON object")
        }
        func int(_ key: String) throws -> Int {
            guard let n = json[key] as? NSNumber, n.doubleValue == n.doubleValue.rounded() else {
                throw FormatError(file: path, "field '\(key)' is missing or not an integer")
            }
            return n.intValue
        }
        func float(_ key: String, default fallback: Float) throws -> Float {
            guard let value = json[key] else { return fallback }
            guard let n = value as? NSNumber else { throw FormatError(file: path, "field '\(key)' is not a number") }
            return n.floatValue
        }
        let modelType = json["model_type"] as? String ?? ""
        let config: DecoderConfig
        switch modelType {
        case "gpt2":
            if let act = json["activation_function"] as? String, act != "gelu_new" {
                throw FormatError(file: path, "activation_function '\(act)' is not supported (GPT-2 uses gelu_new)")
            }
            let hidden = try int("n_embd")
            config = DecoderConfig(
                architecture: .gpt2, vocabSize: try int("vocab_size"), hiddenSize: hidden,
                layerCount: try int("n_layer"), headCount: try int("n_head"),
                intermediateSize: (json["n_inner"] as? NSNumber)?.intValue ?? 4 * hidden,
                maxPositions: try int("n_positions"),
                normEpsilon: try float("layer_norm_epsilon", default: 1e-5),
                tieWordEmbeddings: json["tie_word_embeddings"] as? Bool ?? true)
        case "llama":
            let heads = try int("num_attention_heads")
            // transformers ≥ 5 nests the RoPE base in `rope_parameters`; older files have `rope_theta`.
            var ropeTheta = try float("rope_theta", default: 10_000)
            if let rope = json["rope_parameters"] as? [String: Any] {
                if let type = rope["rope_type"] as? String, type != "default" {
                    throw FormatError(file: path, "rope_parameters.rope_type '\(type)' is not supported (only default RoPE)")
                }
                if let theta = rope["rope_theta"] as? NSNumber { ropeTheta = theta.floatValue }
            }
            if let scaling = json["rope_scaling"], !(scaling is NSNull) {
                throw FormatError(file: path, "rope_scaling is not supported")
            }
            if let headDim = json["head_dim"] as? NSNumber, headDim.intValue * heads != (try int("hidden_size")) {
                throw FormatError(file: path, "head_dim \(headDim) × \(heads) heads ≠ hidden_size (not supported)")
            }
            if let hiddenAct = json["hidden_act"] as? String, hiddenAct != "silu" {
                throw FormatError(file: path, "hidden_act '\(hiddenAct)' is not supported (Llama uses silu)")
            }
            config = DecoderConfig(
                architecture: .llama, vocabSize: try int("vocab_size"), hiddenSize: try int("hidden_size"),
                layerCount: try int("num_hidden_layers"), headCount: heads,
                kvHeadCount: (json["num_key_value_heads"] as? NSNumber)?.intValue ?? heads,
                intermediateSize: try int("intermediate_size"),
                maxPositions: try int("max_position_embeddings"),
                normEpsilon: try float("rms_norm_eps", default: 1e-6),
                ropeTheta: ropeTheta,
                tieWordEmbeddings: json["tie_word_embeddings"] as? Bool ?? false)
        default:
            throw FormatError(file: path, "model_type '\(modelType)' is not a supported decoder (gpt2, llama)")
        }
        do { try config.validate() } catch let error as FormatError {
            throw FormatError(file: path, error.message)
        }
        return config
    }
}
