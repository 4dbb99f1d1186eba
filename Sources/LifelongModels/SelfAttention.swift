import LifelongEngine

/// Causal self-attention of one decoder block.
///
/// GPT-2 projects q|k|v with one fused Conv1D (`c_attn`) and has no rotary embedding; Llama has
/// separate `q_proj`, `k_proj`, `v_proj` (k and v with fewer, shared heads) and rotates q and k
/// (RoPE). Both end with an output projection (`c_proj` / `o_proj`).
public final class SelfAttention: Module {
    let config: DecoderConfig
    private(set) var fusedQKV: (any LinearLayer)?
    private(set) var query: (any LinearLayer)?, key: (any LinearLayer)?, value: (any LinearLayer)?
    private(set) var output: any LinearLayer

    init(config: DecoderConfig, rng: inout SeededGenerator?) {
        self.config = config
        let d = config.hiddenSize, kvWidth = config.kvHeadCount * config.headDim
        let residualStd = 0.02 / Float(2 * config.layerCount).squareRoot()
        switch config.architecture {
        case .gpt2:
            fusedQKV = Linear(inFeatures: d, outFeatures: 3 * d, bias: true, layout: .inOut, std: 0.02, rng: &rng)
            (query, key, value) = (nil, nil, nil)
            output = Linear(inFeatures: d, outFeatures: d, bias: true, layout: .inOut, std: residualStd, rng: &rng)
        case .llama:
            fusedQKV = nil
            query = Linear(inFeatures: d, outFeatures: d, bias: false, layout: .outIn, std: 0.02, rng: &rng)
            key = Linear(inFeatures: d, outFeatures: kvWidth, bias: false, layout: .outIn, std: 0.02, rng: &rng)
            value = Linear(inFeatures: d, outFeatures: kvWidth, bias: false, layout: .outIn, std: 0.02, rng: &rng)
            output = Linear(inFeatures: d, outFeatures: d, bias: false, layout: .outIn, std: residualStd, rng: &rng)
        }
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        switch config.architecture {
        case .gpt2: return scoped("c_attn", fusedQKV!) + scoped("c_proj", output)
        case .llama:
            return scoped("q_proj", query!) + scoped("k_proj", key!) + scoped("v_proj", value!) + scoped("o_proj", output)
        }
    }

    /// Installs `transform`'s result in place of each projection (named as in the checkpoint).
    func replaceLinearLayers(_ transform: (String, any LinearLayer) -> any LinearLayer) {
        switch config.architecture {
        case .gpt2:
            fusedQKV = transform("c_attn", fusedQKV!)
            output = transform("c_proj", output)
        case .llama:
            query = transform("q_proj", query!); key = transform("k_proj", key!)
            value = transform("v_proj", value!); output = transform("o_proj", output)
        }
    }

    /// `x` is [B, T, d]; `positions` has one entry per token (B·T); `keyMask` hides padding.
    /// With a cache, the new keys and values are stored in it and the queries attend to everything
    /// cached so far (inference only).
    func callAsFunction(_ x: Tensor, positions: [Int], keyMask: [Bool]?, cache: (KVCache, layer: Int)? = nil) -> Tensor {
        let heads = config.headCount, kvHeads = config.kvHeadCount
        let q: Tensor, k: Tensor, v: Tensor
        switch config.architecture {
        case .gpt2:
            let d = config.hiddenSize
            let parts = split(fusedQKV!(x), widths: [d, d, d])
            (q, k, v) = (parts[0], parts[1], parts[2])
        case .llama:
            q = rope(query!(x), heads: heads, positions: positions, base: config.ropeTheta)
            k = rope(key!(x), heads: kvHeads, positions: positions, base: config.ropeTheta)
            v = value!(x)
        }
        guard let (cache, layer) = cache else {
            return output(attention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, keyMask: keyMask))
        }
        cache.store(layer: layer, keys: k, values: v)
        let keys = cache.length + x.shape[1]
        return output(cachedAttention(q: q, keyCache: cache.keys[layer], valueCache: cache.values[layer], keys: keys,
                                      heads: heads, kvHeads: kvHeads, keyMask: cache.visibleKeyMask))
    }
}
