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
    let names: CheckpointNames
    let attentionNorm: Norm, feedForwardNorm: Norm
    public internal(set) var attention: any AttentionLayer
    public internal(set) var mlp: any FeedForwardLayer

    init(config: DecoderConfig, rng: inout SeededGenerator?) {
        let family = config.family
        names = family.names
        attentionNorm = Norm(kind: family.normKind, dim: config.hiddenSize, epsilon: config.normEpsilon, rng: &rng)
        attention = family.attention(config, rng: &rng)
        feedForwardNorm = Norm(kind: family.normKind, dim: config.hiddenSize, epsilon: config.normEpsilon, rng: &rng)
        mlp = family.feedForward(config, rng: &rng)
    }

    public var children: [(name: String, module: any Module)] {
        [(names.attentionNorm, attentionNorm), (names.attention, attention), (names.feedForwardNorm, feedForwardNorm),
         (names.feedForward, mlp)]
    }

    public func setChild(_ name: String, to module: any Module) throws {
        switch name {
        case names.attention: try assign(module, to: &attention, name: name, in: Self.self)
        case names.feedForward: try assign(module, to: &mlp, name: name, in: Self.self)
        default: throw ModuleError("the block's '\(name)' cannot be replaced")
        }
    }

    func callAsFunction(_ x: Tensor, _ pass: ForwardPass, layer: Int) -> Tensor {
        let h = add(x, attention(attentionNorm(x), pass, layer: layer))
        return add(h, mlp(feedForwardNorm(h), pass))
    }
}

/// A decoder-only language model of any family (`DecoderFamily`: GPT-2, Llama, Qwen2), as its
/// `DecoderConfig` says.
///
/// Parameter names follow the family's Hugging Face checkpoints (`transformer.*` for GPT-2,
/// `model.*` for Llama, `lm_head.weight` when the head is not tied to the token embedding).
public final class DecoderLM: Module {
    public internal(set) var config: DecoderConfig
    let names: CheckpointNames
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
        let family = config.family
        names = family.names
        var rng = seed.map(SeededGenerator.init(seed:))
        let d = config.hiddenSize
        tokenEmbedding = Embedding(count: config.vocabSize, dim: d, std: 0.02, rng: &rng)
        positionEmbedding = family.learnedPositions ? Embedding(count: config.maxPositions, dim: d, std: 0.01, rng: &rng) : nil
        blocks = (0..<config.layerCount).map { _ in DecoderBlock(config: config, rng: &rng) }
        finalNorm = Norm(kind: family.normKind, dim: d, epsilon: config.normEpsilon, rng: &rng)
        lmHead = config.tieWordEmbeddings ? nil
            : Linear(inFeatures: d, outFeatures: config.vocabSize, bias: false, layout: .outIn, std: 0.02, rng: &rng)
    }

    public var children: [(name: String, module: any Module)] {
        var result: [(name: String, module: any Module)] = [(names.tokenEmbedding, tokenEmbedding)]
        if let positionEmbedding, let name = names.positionEmbedding { result.append((name, positionEmbedding)) }
        result += blocks.enumerated().map { ("\(names.blocks).\($0.offset)", $0.element) }
        result.append((names.finalNorm, finalNorm))
        if let lmHead { result.append(("lm_head", lmHead)) }
        return result
    }

    /// The path of block `index`'s feed-forward layer (`model.layers.3.mlp`).
    public func feedForwardPath(ofBlock index: Int) -> String { "\(names.blocks).\(index).\(names.feedForward)" }

    /// Every block's feed-forward layer with its path (`model.layers.3.mlp`).
    public var namedFeedForwardLayers: [(name: String, layer: any FeedForwardLayer)] {
        blocks.enumerated().map { (feedForwardPath(ofBlock: $0.offset), $0.element.mlp) }
    }

    /// The forward pass: logits of every position, with the layers' auxiliary losses and router
    /// loads. `conditioning` carries what differs per row (SLM's slot mixture).
    public func forward(_ batch: TokenBatch, conditioning: Conditioning = .none) -> ForwardOutput {
        let pass = ForwardPass(batch, conditioning: conditioning, cache: nil)
        let logits = outputLogits(hiddenStates(batch, pass))
        return ForwardOutput(logits: logits, auxiliaryLosses: pass.auxiliaryLosses, routerLoads: pass.routerLoads)
    }

    /// Next-token logits [B, T, vocab].
    public func logits(_ batch: TokenBatch, conditioning: Conditioning = .none) -> Tensor {
        forward(batch, conditioning: conditioning).logits
    }

    /// The last hidden states [B, T, d] (after the final norm). With a cache in the pass
    /// (inference), the batch continues the cached sequences and its keys and values are added
    /// to the cache.
    func hiddenStates(_ batch: TokenBatch, _ pass: ForwardPass) -> Tensor {
        if config.hasLearnedPositions {
            for p in pass.positions {
                precondition(p < config.maxPositions, "position \(p) exceeds the model's \(config.maxPositions) positions")
            }
        }
        var x = tokenEmbedding(batch.ids, shape: [batch.batchSize, batch.length])
        if let positionEmbedding {
            x = add(x, positionEmbedding(pass.positions, shape: [batch.batchSize, batch.length]))
        }
        if let cache = pass.cache {
            precondition(cache.batchSize == batch.batchSize, "cache holds \(cache.batchSize) sequences, batch has \(batch.batchSize)")
            cache.appendMask(batch.mask, count: batch.length)
        }
        for (i, block) in blocks.enumerated() {
            x = block(x, pass, layer: i)
        }
        pass.cache?.length += batch.length
        return finalNorm(x)
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

    /// The pretrained linear layers of the tree (under any replaced layer), in order, the head last.
    var linearLayers: [Linear] { modules(of: (any LinearLayer).self).map(\.module.base) }

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
        crossEntropy(logits(batch), targets: languageModelingTargets(batch))
    }

    /// The next token of every position (-100 at the last one and before padding: not predicted).
    public func languageModelingTargets(_ batch: TokenBatch) -> [Int] {
        var targets = [Int](repeating: -100, count: batch.ids.count)
        for b in 0..<batch.batchSize {
            for t in 0..<(batch.length - 1) {
                let next = b * batch.length + t + 1
                if batch.mask?[next] ?? true { targets[next - 1] = batch.ids[next] }
            }
        }
        return targets
    }

    /// A copy with its own weights and the same replaced layers (Lifelong-MoE's frozen snapshot of
    /// the model as it was before a stage). The copy's parameters do not train.
    public func copy() throws -> DecoderLM {
        let copy = DecoderLM(config: config, seed: nil)
        try copy.install(layerRecords)
        let source = namedParameters
        let target = copy.namedParameters
        precondition(source.map(\.name) == target.map(\.name), "DecoderLM.copy: the copy has other parameters")
        for ((_, from), (_, to)) in zip(source, target) {
            _ = to.data.update(from: from.data)
            to.requiresGrad = false
        }
        return copy
    }
}
