import LifelongEngine
import LifelongFormats

extension DecoderConfig.Architecture {
    public static let gpt2 = Self(rawValue: "gpt2")
}

/// GPT-2: learned positions, LayerNorm, biases everywhere, a fused q|k|v projection and a
/// tanh-GELU MLP, all stored in the Conv1D layout [in, out].
public enum GPT2: DecoderFamily {
    public static let architecture = DecoderConfig.Architecture.gpt2
    public static let names = CheckpointNames(
        root: "transformer.", tokenEmbedding: "transformer.wte", positionEmbedding: "transformer.wpe", blocks: "transformer.h",
        finalNorm: "transformer.ln_f", attentionNorm: "ln_1", attention: "attn", feedForwardNorm: "ln_2", feedForward: "mlp")
    public static let learnedPositions = true
    public static let normKind = Norm.Kind.layerNorm
    public static let defaultNormEpsilon: Float = 1e-5

    /// `config.json` keys: vocab_size, n_embd, n_layer, n_head, n_inner, n_positions,
    /// layer_norm_epsilon, tie_word_embeddings, activation_function (gelu_new only).
    public static func config(huggingFace json: JSONFields) throws -> DecoderConfig {
        let limits = DecoderConfig.limits
        func size(_ key: String, _ limit: Int) throws -> Int { try json.int(key, in: 1...limit) }
        if let act = try json.string("activation_function"), act != "gelu_new" {
            throw FormatError(file: json.path, "activation_function '\(act)' is not supported (GPT-2 uses gelu_new)")
        }
        let hidden = try size("n_embd", limits.hidden)
        return DecoderConfig(
            architecture: .gpt2, vocabSize: try size("vocab_size", limits.vocabulary), hiddenSize: hidden,
            layerCount: try size("n_layer", limits.layers), headCount: try size("n_head", limits.heads),
            intermediateSize: try json.optionalInt("n_inner", in: 1...limits.intermediate) ?? 4 * hidden,
            maxPositions: try size("n_positions", limits.positions),
            normEpsilon: try json.float("layer_norm_epsilon", default: 1e-5, in: 1e-30...0.5),
            tieWordEmbeddings: try json.bool("tie_word_embeddings", default: true))
    }

    public static func huggingFaceConfig(_ config: DecoderConfig) -> [String: Any] {
        ["model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": config.vocabSize,
         "n_embd": config.hiddenSize, "n_layer": config.layerCount, "n_head": config.headCount,
         "n_inner": config.intermediateSize, "n_positions": config.maxPositions, "n_ctx": config.maxPositions,
         "layer_norm_epsilon": jsonNumber(config.normEpsilon), "activation_function": "gelu_new",
         "tie_word_embeddings": config.tieWordEmbeddings, "resid_pdrop": 0, "embd_pdrop": 0, "attn_pdrop": 0]
    }

    public static func parameterCount(_ config: DecoderConfig) -> Double {
        let d = Double(config.hiddenSize), ff = Double(config.intermediateSize)
        let perLayer = 4 * d * d + 4 * d + 2 * d * ff + ff + d + 4 * d  // attention + biases, MLP + biases, two LayerNorms
        let rest = 2 * d + Double(config.maxPositions) * d
        return Double(config.layerCount) * perLayer + rest + Double(config.vocabSize) * d * (config.tieWordEmbeddings ? 1 : 2)
    }

    public static func attention(_ config: DecoderConfig, rng: inout SeededGenerator?) -> any AttentionLayer {
        GPT2Attention(config: config, rng: &rng)
    }

    /// llama.cpp's `gpt2`: LayerNorms with biases, the fused `attn_qkv`, learned positions
    /// (`position_embd`), and the four Conv1D weights stored transposed ([out, in]).
    public static let gguf: GGUFLayout? = GGUFLayout(
        architecture: "gpt2",
        blockTensors: ["ln_1.weight": "attn_norm.weight", "ln_1.bias": "attn_norm.bias",
                       "attn.c_attn.weight": "attn_qkv.weight", "attn.c_attn.bias": "attn_qkv.bias",
                       "attn.c_proj.weight": "attn_output.weight", "attn.c_proj.bias": "attn_output.bias",
                       "ln_2.weight": "ffn_norm.weight", "ln_2.bias": "ffn_norm.bias",
                       "mlp.c_fc.weight": "ffn_up.weight", "mlp.c_fc.bias": "ffn_up.bias",
                       "mlp.c_proj.weight": "ffn_down.weight", "mlp.c_proj.bias": "ffn_down.bias"],
        rotaryRowsPermuted: false,
        transposed: ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"],
        normEpsilonKey: "attention.layer_norm_epsilon")

    public static func feedForward(_ config: DecoderConfig, rng: inout SeededGenerator?) -> any DenseFeedForward {
        let d = config.hiddenSize
        let up = Linear(inFeatures: d, outFeatures: config.intermediateSize, bias: true, layout: .inOut, std: 0.02, rng: &rng)
        let down = Linear(inFeatures: config.intermediateSize, outFeatures: d, bias: true, layout: .inOut,
                          std: config.residualInitStd, rng: &rng)
        return GPT2MLP(up: up, down: down)
    }
}

/// GPT-2's attention: one fused projection `c_attn` to q|k|v, no rotary embedding, `c_proj` out.
public final class GPT2Attention: AttentionLayer {
    let heads: Int
    private(set) var fusedQKV: any LinearLayer
    private(set) var output: any LinearLayer

    init(config: DecoderConfig, rng: inout SeededGenerator?) {
        let d = config.hiddenSize
        heads = config.headCount
        fusedQKV = Linear(inFeatures: d, outFeatures: 3 * d, bias: true, layout: .inOut, std: 0.02, rng: &rng)
        output = Linear(inFeatures: d, outFeatures: d, bias: true, layout: .inOut, std: config.residualInitStd, rng: &rng)
    }

    public var children: [(name: String, module: any Module)] { [("c_attn", fusedQKV), ("c_proj", output)] }

    public func setChild(_ name: String, to module: any Module) throws {
        switch name {
        case "c_attn": try assign(module, to: &fusedQKV, name: name, in: Self.self)
        case "c_proj": try assign(module, to: &output, name: name, in: Self.self)
        default: throw ModuleError("GPT2Attention has no child '\(name)'")
        }
    }

    public func callAsFunction(_ x: Tensor, _ pass: ForwardPass, layer: Int) -> Tensor {
        let d = x.lastDim
        let parts = split(fusedQKV(x, pass), widths: [d, d, d])
        return attend(q: parts[0], k: parts[1], v: parts[2], heads: heads, kvHeads: heads, output: output, pass, layer: layer)
    }
}

/// GPT-2's feed-forward layer: `c_proj(gelu_tanh(c_fc(x)))`.
public final class GPT2MLP: DenseFeedForward {
    private(set) var up: any LinearLayer, down: any LinearLayer

    init(up: any LinearLayer, down: any LinearLayer) { self.up = up; self.down = down }

    public var children: [(name: String, module: any Module)] { [("c_fc", up), ("c_proj", down)] }

    public func setChild(_ name: String, to module: any Module) throws {
        switch name {
        case "c_fc": try assign(module, to: &up, name: name, in: Self.self)
        case "c_proj": try assign(module, to: &down, name: name, in: Self.self)
        default: throw ModuleError("GPT2MLP has no child '\(name)'")
        }
    }

    public func copy() -> GPT2MLP { GPT2MLP(up: up.base.copy(), down: down.base.copy()) }

    public var inFeatures: Int { up.base.inFeatures }

    public func callAsFunction(_ x: Tensor, _ pass: ForwardPass) -> Tensor { down(geluTanh(up(x, pass)), pass) }
}

extension DecoderConfig {
    /// GPT-2's initialisation of the projections that write into the residual stream: N(0, 0.02)
    /// scaled by 1/√(2·layers).
    var residualInitStd: Float { 0.02 / Float(2 * layerCount).squareRoot() }
}
