import Foundation
import LifelongEngine
import LifelongFormats

extension DecoderConfig.Architecture {
    public static let llama = Self(rawValue: "llama")
}

/// Llama (SmolLM2, TinyLlama, Llama 2/3 without RoPE scaling): rotary positions, RMSNorm,
/// grouped-query attention with separate q/k/v projections and no biases, a SwiGLU MLP, weights
/// in the [out, in] layout, an optional untied head.
public enum Llama: DecoderFamily {
    public static let architecture = DecoderConfig.Architecture.llama
    public static let names = CheckpointNames(
        root: "model.", tokenEmbedding: "model.embed_tokens", positionEmbedding: nil, blocks: "model.layers",
        finalNorm: "model.norm", attentionNorm: "input_layernorm", attention: "self_attn",
        feedForwardNorm: "post_attention_layernorm", feedForward: "mlp")
    public static let learnedPositions = false
    public static let normKind = Norm.Kind.rmsNorm
    public static let defaultNormEpsilon: Float = 1e-6

    /// `config.json` keys: vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
    /// num_key_value_heads, intermediate_size, max_position_embeddings, rms_norm_eps, rope_theta
    /// (or rope_parameters.rope_theta), tie_word_embeddings, head_dim, hidden_act (silu only).
    public static func config(huggingFace json: JSONFields) throws -> DecoderConfig {
        try rotaryConfig(json, architecture: .llama, tiedByDefault: false)
    }

    public static func parameterCount(_ config: DecoderConfig) -> Double {
        rotaryParameterCount(config, queryKeyValueBias: false)
    }

    public static func huggingFaceConfig(_ config: DecoderConfig) -> [String: Any] {
        rotaryHuggingFaceConfig(config, modelType: "llama", className: "LlamaForCausalLM")
            .merging(["attention_bias": false, "mlp_bias": false]) { $1 }
    }

    /// The `config.json` keys Llama and the families built like it (Qwen2, Mixtral) share.
    static func rotaryHuggingFaceConfig(_ config: DecoderConfig, modelType: String, className: String) -> [String: Any] {
        ["model_type": modelType, "architectures": [className], "vocab_size": config.vocabSize,
         "hidden_size": config.hiddenSize, "num_hidden_layers": config.layerCount,
         "num_attention_heads": config.headCount, "num_key_value_heads": config.kvHeadCount, "head_dim": config.headDim,
         "intermediate_size": config.intermediateSize, "max_position_embeddings": config.maxPositions,
         "rms_norm_eps": jsonNumber(config.normEpsilon), "hidden_act": "silu",
         "rope_theta": jsonNumber(config.ropeTheta),
         "rope_parameters": ["rope_type": "default", "rope_theta": jsonNumber(config.ropeTheta)] as [String: Any],
         "tie_word_embeddings": config.tieWordEmbeddings, "attention_dropout": 0]
    }

    /// Llama's count; with biases, Qwen2's.
    static func rotaryParameterCount(_ config: DecoderConfig, queryKeyValueBias: Bool) -> Double {
        let d = Double(config.hiddenSize), ff = Double(config.intermediateSize), kv = Double(config.kvHeadCount * config.headDim)
        var perLayer = 2 * d * d + 2 * d * kv + 3 * d * ff + 2 * d  // q, o; k, v; gate, up, down; two RMSNorms
        if queryKeyValueBias { perLayer += d + 2 * kv }
        return Double(config.layerCount) * perLayer + d + Double(config.vocabSize) * d * (config.tieWordEmbeddings ? 1 : 2)
    }

    public static func attention(_ config: DecoderConfig, rng: inout SeededGenerator?) -> any AttentionLayer {
        LlamaAttention(config: config, queryKeyValueBias: false, rng: &rng)
    }

    public static func feedForward(_ config: DecoderConfig, rng: inout SeededGenerator?) -> any DenseFeedForward {
        GatedMLP(config: config, rng: &rng)
    }

    public static let gguf: GGUFLayout? = GGUFLayout(
        architecture: "llama",
        blockTensors: ["input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
                       "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
                       "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
                       "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
                       "mlp.down_proj.weight": "ffn_down.weight"],
        rotaryRowsPermuted: true)

    /// The `config.json` of Llama and the families built like it (Qwen2).
    static func rotaryConfig(_ json: JSONFields, architecture: DecoderConfig.Architecture, tiedByDefault: Bool) throws -> DecoderConfig {
        let limits = DecoderConfig.limits, path = json.path
        func size(_ key: String, _ limit: Int) throws -> Int { try json.int(key, in: 1...limit) }
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
            throw FormatError(file: path, "hidden_act '\(hiddenAct)' is not supported (\(architecture.rawValue) uses silu)")
        }
        return DecoderConfig(
            architecture: architecture, vocabSize: try size("vocab_size", limits.vocabulary), hiddenSize: hidden,
            layerCount: try size("num_hidden_layers", limits.layers), headCount: heads,
            kvHeadCount: try json.optionalInt("num_key_value_heads", in: 1...limits.heads) ?? heads,
            intermediateSize: try size("intermediate_size", limits.intermediate),
            maxPositions: try size("max_position_embeddings", limits.positions),
            normEpsilon: try json.float("rms_norm_eps", default: 1e-6, in: 1e-30...0.5),
            ropeTheta: ropeTheta,
            tieWordEmbeddings: try json.bool("tie_word_embeddings", default: tiedByDefault))
    }
}

/// Llama's attention: q, k, v projections (k and v with fewer, shared heads), q and k rotated
/// (RoPE, the "rotate half" layout), `o_proj` out. Qwen2 gives q, k and v biases.
public final class LlamaAttention: AttentionLayer {
    let heads: Int, kvHeads: Int, ropeTheta: Float
    private(set) var query: any LinearLayer, key: any LinearLayer, value: any LinearLayer, output: any LinearLayer

    init(config: DecoderConfig, queryKeyValueBias: Bool, rng: inout SeededGenerator?) {
        let d = config.hiddenSize, kvWidth = config.kvHeadCount * config.headDim, bias = queryKeyValueBias
        (heads, kvHeads, ropeTheta) = (config.headCount, config.kvHeadCount, config.ropeTheta)
        query = Linear(inFeatures: d, outFeatures: d, bias: bias, layout: .outIn, std: 0.02, rng: &rng)
        key = Linear(inFeatures: d, outFeatures: kvWidth, bias: bias, layout: .outIn, std: 0.02, rng: &rng)
        value = Linear(inFeatures: d, outFeatures: kvWidth, bias: bias, layout: .outIn, std: 0.02, rng: &rng)
        output = Linear(inFeatures: d, outFeatures: d, bias: false, layout: .outIn, std: config.residualInitStd, rng: &rng)
    }

    public var children: [(name: String, module: any Module)] {
        [("q_proj", query), ("k_proj", key), ("v_proj", value), ("o_proj", output)]
    }

    public func setChild(_ name: String, to module: any Module) throws {
        switch name {
        case "q_proj": try assign(module, to: &query, name: name, in: Self.self)
        case "k_proj": try assign(module, to: &key, name: name, in: Self.self)
        case "v_proj": try assign(module, to: &value, name: name, in: Self.self)
        case "o_proj": try assign(module, to: &output, name: name, in: Self.self)
        default: throw ModuleError("LlamaAttention has no child '\(name)'")
        }
    }

    public func callAsFunction(_ x: Tensor, _ pass: ForwardPass, layer: Int) -> Tensor {
        let q = rope(query(x, pass), heads: heads, positions: pass.positions, base: ropeTheta)
        let k = rope(key(x, pass), heads: kvHeads, positions: pass.positions, base: ropeTheta)
        return attend(q: q, k: k, v: value(x, pass), heads: heads, kvHeads: kvHeads, output: output, pass, layer: layer)
    }
}

/// Llama's feed-forward layer: `down_proj(silu(gate_proj(x)) ⊙ up_proj(x))`.
public final class GatedMLP: DenseFeedForward {
    private(set) var gate: any LinearLayer, up: any LinearLayer, down: any LinearLayer

    init(config: DecoderConfig, rng: inout SeededGenerator?) {
        let d = config.hiddenSize, hidden = config.intermediateSize
        gate = Linear(inFeatures: d, outFeatures: hidden, bias: false, layout: .outIn, std: 0.02, rng: &rng)
        up = Linear(inFeatures: d, outFeatures: hidden, bias: false, layout: .outIn, std: 0.02, rng: &rng)
        down = Linear(inFeatures: hidden, outFeatures: d, bias: false, layout: .outIn, std: config.residualInitStd, rng: &rng)
    }

    private init(gate: any LinearLayer, up: any LinearLayer, down: any LinearLayer) {
        self.gate = gate; self.up = up; self.down = down
    }

    public var children: [(name: String, module: any Module)] { [("gate_proj", gate), ("up_proj", up), ("down_proj", down)] }

    public func setChild(_ name: String, to module: any Module) throws {
        switch name {
        case "gate_proj": try assign(module, to: &gate, name: name, in: Self.self)
        case "up_proj": try assign(module, to: &up, name: name, in: Self.self)
        case "down_proj": try assign(module, to: &down, name: name, in: Self.self)
        default: throw ModuleError("GatedMLP has no child '\(name)'")
        }
    }

    public func copy() -> GatedMLP { GatedMLP(gate: gate.base.copy(), up: up.base.copy(), down: down.base.copy()) }

    public var inFeatures: Int { up.base.inFeatures }

    public func callAsFunction(_ x: Tensor, _ pass: ForwardPass) -> Tensor {
        down(swiGLU(gate: gate(x, pass), up: up(x, pass)), pass)
    }
}
