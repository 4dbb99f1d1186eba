import LifelongEngine
import LifelongFormats

/// A family of decoder-only models (GPT-2, Llama, Qwen2): how its `config.json` reads, what its
/// blocks are made of and what its checkpoint calls them. Each family is one file; adding one is
/// that file plus one line in `DecoderFamilies.all` (see the README's "Adding a model family").
///
/// `DecoderLM` is the same for every family — token embedding, optional learned positions,
/// pre-norm blocks of attention and feed-forward, final norm, head — and asks the family for the
/// parts that differ.
public protocol DecoderFamily {
    /// The family's `model_type` in `config.json`, and `architecture` in a scratch model's config.
    static var architecture: DecoderConfig.Architecture { get }
    /// What the family's checkpoints call the model's parts.
    static var names: CheckpointNames { get }
    /// Whether positions are a learned table (GPT-2; a hard maximum) or rotary (no table).
    static var learnedPositions: Bool { get }
    /// LayerNorm (weight and bias) or RMSNorm (weight only).
    static var normKind: Norm.Kind { get }
    /// The norm epsilon of a scratch model.
    static var defaultNormEpsilon: Float { get }
    /// Reads the family's Hugging Face `config.json` (already known to have this `model_type`).
    static func config(huggingFace json: JSONFields) throws -> DecoderConfig
    /// The family's `config.json` for `config` (`model_type`, `architectures` and the keys that
    /// `config(huggingFace:)` reads): what an export writes and transformers loads.
    static func huggingFaceConfig(_ config: DecoderConfig) -> [String: Any]
    /// One block's attention, drawing its initial weights from `rng` (nil: zeros, to be loaded).
    static func attention(_ config: DecoderConfig, rng: inout SeededGenerator?) -> any AttentionLayer
    /// One block's dense feed-forward layer.
    static func feedForward(_ config: DecoderConfig, rng: inout SeededGenerator?) -> any DenseFeedForward
    /// The exact number of parameters of a model of this shape, without building it (counted in
    /// Double: no overflow for any size a config may give).
    static func parameterCount(_ config: DecoderConfig) -> Double
    /// How GGUF files of the family name and lay out tensors (nil: the family has no GGUF loader).
    static var gguf: GGUFLayout? { get }
}

extension DecoderFamily {
    public static var gguf: GGUFLayout? { nil }
}

/// A Float from a config as JSON writes it: its shortest decimal (1e-05, not 9.99999974e-06), so
/// that a config read back gives the same Float.
func jsonNumber(_ value: Float) -> Double { Double("\(value)") ?? Double(value) }

/// The families the library builds, by architecture name.
public enum DecoderFamilies {
    public static let all: [any DecoderFamily.Type] = [GPT2.self, Llama.self, Qwen2.self]

    /// The family called `architecture`, or nil.
    public static func named(_ architecture: String) -> (any DecoderFamily.Type)? {
        all.first { $0.architecture.rawValue == architecture }
    }

    /// The family whose GGUF files say `general.architecture` = `name`, or nil.
    static func gguf(_ name: String) -> (any DecoderFamily.Type)? {
        all.first { $0.gguf?.architecture == name }
    }

    /// The names of the families, for messages.
    public static var names: String { all.map { $0.architecture.rawValue }.joined(separator: ", ") }
}

/// What a family's checkpoint calls the parts of the model, full paths from the model's root.
public struct CheckpointNames: Sendable {
    /// The prefix every name but the head's has (`transformer.`, `model.`); some files omit it.
    public var root: String
    public var tokenEmbedding: String
    public var positionEmbedding: String?
    /// Block i is `blocks.i` (`model.layers.3`).
    public var blocks: String
    public var finalNorm: String
    /// Inside a block.
    public var attentionNorm: String, attention: String, feedForwardNorm: String, feedForward: String
}

/// A GGUF family's tensor names (llama.cpp's `blk.N.attn_q.weight`) and layout.
public struct GGUFLayout: Sendable {
    /// `general.architecture`, and the prefix of the family's metadata keys.
    public var architecture: String
    /// Our (Hugging Face) name of a block's tensor → llama.cpp's, inside `blk.N.`.
    public var blockTensors: [String: String]
    /// Whether q and k rows are stored permuted for llama.cpp's interleaved rotary layout.
    public var rotaryRowsPermuted: Bool
    /// Block tensors (our names) that llama.cpp stores transposed: GPT-2's Conv1D [in, out]
    /// weights are [out, in] there.
    public var transposed: Set<String> = []
    /// The metadata key of the norm epsilon, after `<architecture>.`.
    public var normEpsilonKey = "attention.layer_norm_rms_epsilon"

    public init(architecture: String, blockTensors: [String: String], rotaryRowsPermuted: Bool, transposed: Set<String> = [],
                normEpsilonKey: String = "attention.layer_norm_rms_epsilon") {
        self.architecture = architecture; self.blockTensors = blockTensors; self.rotaryRowsPermuted = rotaryRowsPermuted
        self.transposed = transposed; self.normEpsilonKey = normEpsilonKey
    }

    /// Whether our parameter `name` (`transformer.h.0.attn.c_attn.weight`) is stored transposed.
    func isTransposed(_ name: String, blocks: String) -> Bool {
        guard name.hasPrefix(blocks + "."), let inner = name.dropFirst(blocks.count + 1).split(separator: ".", maxSplits: 1).last else { return false }
        return transposed.contains(String(inner))
    }
}

/// The attention of one decoder block.
public protocol AttentionLayer: Module {
    /// `x` is [B, T, d]; block `layer`'s keys and values go to the pass's cache, when it has one.
    func callAsFunction(_ x: Tensor, _ pass: ForwardPass, layer: Int) -> Tensor
}

/// Causal attention of projected q, k, v [B, T, heads·D], then the output projection. With a
/// cache (inference), the new keys and values are stored in it and the queries attend to
/// everything cached so far.
func attend(q: Tensor, k: Tensor, v: Tensor, heads: Int, kvHeads: Int, output: any LinearLayer,
            _ pass: ForwardPass, layer: Int) -> Tensor {
    guard let cache = pass.cache else {
        return output(attention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, keyMask: pass.keyMask), pass)
    }
    cache.store(layer: layer, keys: k, values: v)
    let keys = cache.length + q.shape[1]
    return output(cachedAttention(q: q, keyCache: cache.keys[layer], valueCache: cache.values[layer], keys: keys,
                                  heads: heads, kvHeads: kvHeads, keyMask: cache.visibleKeyMask), pass)
}
