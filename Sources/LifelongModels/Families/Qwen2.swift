import LifelongEngine
import LifelongFormats

extension DecoderConfig.Architecture {
    public static let qwen2 = Self(rawValue: "qwen2")
}

/// Qwen2 (Qwen2 and Qwen2.5): Llama's blocks with biases on the q, k and v projections.
public enum Qwen2: DecoderFamily {
    public static let architecture = DecoderConfig.Architecture.qwen2
    public static let names = Llama.names
    public static let learnedPositions = false
    public static let normKind = Norm.Kind.rmsNorm
    public static let defaultNormEpsilon: Float = 1e-6

    /// Llama's keys (`Llama.config(huggingFace:)`); the sliding window transformers defines is
    /// refused when it is on (`use_sliding_window`), since every layer here attends to all tokens.
    public static func config(huggingFace json: JSONFields) throws -> DecoderConfig {
        if try json.bool("use_sliding_window", default: false) {
            throw FormatError(file: json.path, "use_sliding_window: true is not supported (attention over the whole sequence only)")
        }
        return try Llama.rotaryConfig(json, architecture: .qwen2, tiedByDefault: false)
    }

    public static func huggingFaceConfig(_ config: DecoderConfig) -> [String: Any] {
        Llama.rotaryHuggingFaceConfig(config, modelType: "qwen2", className: "Qwen2ForCausalLM")
            .merging(["use_sliding_window": false]) { $1 }
    }

    public static func parameterCount(_ config: DecoderConfig) -> Double {
        Llama.rotaryParameterCount(config, queryKeyValueBias: true)
    }

    public static func attention(_ config: DecoderConfig, rng: inout SeededGenerator?) -> any AttentionLayer {
        LlamaAttention(config: config, queryKeyValueBias: true, rng: &rng)
    }

    /// llama.cpp's `qwen2`: Llama's tensor names plus the q/k/v biases; its rotary embedding is
    /// the rotate-half one, so q and k rows are stored as they are.
    public static let gguf: GGUFLayout? = GGUFLayout(
        architecture: "qwen2",
        blockTensors: Llama.gguf!.blockTensors.merging(["self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias",
                                                        "self_attn.v_proj.bias": "attn_v.bias"]) { $1 },
        rotaryRowsPermuted: false)

    public static func feedForward(_ config: DecoderConfig, rng: inout SeededGenerator?) -> any DenseFeedForward {
        GatedMLP(config: config, rng: &rng)
    }
}
