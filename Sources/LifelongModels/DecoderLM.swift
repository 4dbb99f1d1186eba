import LifelongEngine

/// Token ids of a batch of sequences padded to one length, row-major [batch, length].
public struct TokenBatch: Sendable {
    public var ids: [Int]
    public var batchSize: Int
    public var length: Int
    /// true for real tokens, false for padding; nil when nothing is padded.
    public var mask: [Bool]?
    /// Position of each token; nil means 0, 1, 2, … in every row.
    public var positions: [Int]?

    public init(ids: [Int], batchSize: Int, length: Int, mask: [Bool]? = nil, positions: [Int]? = nil) {
        precondition(ids.count == batchSize * length, "TokenBatch: \(ids.count) ids for \(batchSize)×\(length)")
        self.ids = ids; self.batchSize = batchSize; self.length = length
        self.mask = mask; self.positions = positions
    }

    /// One row per sequence, all of the same length.
    public init(rows: [[Int]]) {
        let length = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == length }, "TokenBatch(rows:) needs equal lengths")
        self.init(ids: rows.flatMap { $0 }, batchSize: rows.count, length: length)
    }

    var resolvedPositions: [Int] { positions ?? (0..<batchSize).flatMap { _ in 0..<length } }
}

/// One transformer block, pre-norm: x + attn(norm₁(x)), then + mlp(norm₂(x)).
public final class DecoderBlock: Module {
    let names: (norm1: String, attention: String, norm2: String, mlp: String)
    let norm1: Norm, attention: SelfAttention, norm2: Norm
    var mlp: any FeedForwardLayer

    init(config: DecoderConfig, rng: inout SeededGenerator?) {
        let normKind: Norm.Kind = config.architecture == .gpt2 ? .layerNorm : .rmsNorm
        names = config.architecture == .gpt2
            ? ("ln_1", "attn", "ln_2", "mlp")
            : ("input_layernorm", "self_attn", "post_attention_layernorm", "mlp")
        norm1 = Norm(kind: normKind, dim: config.hiddenSize, epsilon: config.normEpsilon, rng: &rng)
        attention = SelfAttention(config: config, rng: &rng)
        norm2 = Norm(kind: normKind, dim: config.hiddenSize, epsilon: config.normEpsilon, rng: &rng)
        mlp = FeedForward(config: config, rng: &rng)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        scoped(names.norm1, norm1) + scoped(names.attention, attention) + scoped(names.norm2, norm2) + scoped(names.mlp, mlp)
    }

    func replaceLinearLayers(_ transform: (String, any LinearLayer) -> any LinearLayer) {
        attention.replaceLinearLayers { transform("\(names.attention).\($0)", $1) }
        mlp.replaceLinearLayers { transform("\(names.mlp).\($0)", $1) }
    }

    func callAsFunction(_ x: Tensor, positions: [Int], keyMask: [Bool]?, cache: (KVCache, layer: Int)?) -> Tensor {
        let h = add(x, attention(norm1(x), positions: positions, keyMask: keyMask, cache: cache))
        return add(h, mlp(norm2(h)))
    }
}

/// A decoder-only language model: GPT-2 or Llama, as its `DecoderConfig` says.
///
/// Parameter names follow the Hugging Face checkpoints (`transformer.*` for GPT-2, `model.*` for
/// Llama, `lm_head.weight` when the head is not tied to the token embedding).
public final class DecoderLM: Module {
    public internal(set) var config: DecoderConfig
    public let tokenEmbedding: Embedding
    public let positionEmbedding: Embedding?
    public let blocks: [DecoderBlock]
    public let finalNorm: Norm
    public internal(set) var lmHead: Linear?

    /// A freshly initialised model (GPT-2 initialisation: N(0, 0.02), residual projections scaled
    /// by 1/√(2·layers), norms at 1, biases at 0).
    /// With `seed: nil` the parameters are left at zero, for a model about to be loaded.
    public init(config: DecoderConfig, seed: UInt64?) {
        self.config = config
        var rng = seed.map(SeededGenerator.init(seed:))
        let d = config.hiddenSize
        tokenEmbedding = Embedding(count: config.vocabSize, dim: d, std: 0.02, rng: &rng)
        positionEmbedding = config.architecture == .gpt2
            ? Embedding(count: config.maxPositions, dim: d, std: 0.01, rng: &rng) : nil
        blocks = (0..<config.layerCount).map { _ in DecoderBlock(config: config, rng: &rng) }
        finalNorm = Norm(kind: config.architecture == .gpt2 ? .layerNorm : .rmsNorm, dim: d,
                         epsilon: config.normEpsilon, rng: &rng)
        lmHead = config.tieWordEmbeddings ? nil
            : Linear(inFeatures: d, outFeatures: config.vocabSize, bias: false, layout: .outIn, std: 0.02, rng: &rng)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        var result: [(name: String, tensor: Tensor)]
        switch config.architecture {
        case .gpt2:
            result = scoped("transformer.wte", tokenEmbedding) + scoped("transformer.wpe", positionEmbedding!)
            for (i, block) in blocks.enumerated() { result += scoped("transformer.h.\(i)", block) }
            result += scoped("transformer.ln_f", finalNorm)
        case .llama:
            result = scoped("model.embed_tokens", tokenEmbedding)
            for (i, block) in blocks.enumerated() { result += scoped("model.layers.\(i)", block) }
            result += scoped("model.norm", finalNorm)
        }
        if let lmHead { result += scoped("lm_head", lmHead) }
        return result
    }

    /// The last hidden states [B, T, d] (after the final norm). With a cache (inference), the
    /// batch continues the cached sequences and its keys and values are added to the cache.
    public func hiddenStates(_ batch: TokenBatch, cache: KVCache? = nil) -> Tensor {
        let positions = batch.resolvedPositions
        for p in positions {
            precondition(config.architecture != .gpt2 || p < config.maxPositions,
                         "position \(p) exceeds the model's \(config.maxPositions) positions")
        }
        var x = tokenEmbedding(batch.ids, shape: [batch.batchSize, batch.length])
        if let positionEmbedding {
            x = add(x, positionEmbedding(positions, shape: [batch.batchSize, batch.length]))
        }
        if let cache {
            precondition(cache.batchSize == batch.batchSize, "cache holds \(cache.batchSize) sequences, batch has \(batch.batchSize)")
            cache.appendMask(batch.mask, count: batch.length)
        }
        for (i, block) in blocks.enumerated() {
            x = block(x, positions: positions, keyMask: batch.mask, cache: cache.map { ($0, i) })
        }
        cache?.length += batch.length
        return finalNorm(x)
    }

    /// Next-token logits [B, T, vocab].
    public func logits(_ batch: TokenBatch) -> Tensor {
        outputLogits(hiddenStates(batch))
    }

    /// Logits of hidden states [..., d] → [..., vocab], through the head or the tied embedding.
    func outputLogits(_ h: Tensor) -> Tensor {
        if let lmHead { return lmHead(h) }
        if let quantized = tokenEmbedding.quantized {
            precondition(!GradMode.isEnabled, "a model holding quantised weights runs inference only: call dropQuantizedWeights() before training")
            return linear(h, quantized)
        }
        return linear(h, tokenEmbedding.weight, layout: .outIn)
    }

    /// The pretrained linear layers (under any replaced layer), in order, and the head.
    var linearLayers: [Linear] {
        namedLinearLayers.map(\.layer.base) + (lmHead.map { [$0] } ?? [])
    }

    /// Bytes of the quantised weights kept for inference (0 when the model runs in fp32).
    public var quantizedByteCount: Int {
        linearLayers.reduce(tokenEmbedding.quantized?.byteCount ?? 0) { $0 + ($1.quantized?.byteCount ?? 0) }
    }

    /// Forgets the quantised copies, so the model computes with (and can train) its fp32 weights.
    public func dropQuantizedWeights() {
        for layer in linearLayers { layer.quantized = nil }
        tokenEmbedding.quantized = nil
    }

    /// Mean next-token cross-entropy: position t predicts token t+1 (as Hugging Face's `labels=ids`).
    /// Padding positions are not predicted.
    public func languageModelingLoss(_ batch: TokenBatch) -> Tensor {
        var targets = [Int](repeating: -100, count: batch.ids.count)
        for b in 0..<batch.batchSize {
            for t in 0..<(batch.length - 1) {
                let next = b * batch.length + t + 1
                if batch.mask?[next] ?? true { targets[next - 1] = batch.ids[next] }
            }
        }
        return crossEntropy(logits(batch), targets: targets)
    }
}
