import LifelongEngine

/// Keys and values of every token seen so far, per layer, so that decoding one more token costs
/// one token's work instead of re-running the whole prefix.
///
/// Each layer's cache is one contiguous buffer [batch, capacity, kvHeads · headDim]; new rows are
/// written in place at `length`, and attention reads the filled prefix directly from the buffer.
public final class KVCache {
    public let batchSize: Int
    public let capacity: Int
    /// Positions filled so far (the same for every sequence: prompts are left-padded).
    public internal(set) var length = 0
    let keys: [Tensor]
    let values: [Tensor]
    /// [batch × capacity]: false where the token is padding.
    var mask: [Bool]
    /// The mask over the filled positions plus the incoming tokens, [batch × keys], rebuilt once
    /// per forward pass by `appendMask` and shared by every layer.
    private(set) var visibleKeyMask: [Bool] = []

    public convenience init(config: DecoderConfig, batchSize: Int, capacity: Int) {
        self.init(layers: config.layerCount, width: config.kvHeadCount * config.headDim, batchSize: batchSize, capacity: capacity)
    }

    private init(layers: Int, width: Int, batchSize: Int, capacity: Int) {
        self.batchSize = batchSize
        self.capacity = capacity
        keys = (0..<layers).map { _ in Tensor(zeros: [batchSize, capacity, width]) }
        values = (0..<layers).map { _ in Tensor(zeros: [batchSize, capacity, width]) }
        mask = [Bool](repeating: false, count: batchSize * capacity)
    }

    /// A cache of `count` sequences that all continue this cache's first sequence: its keys, values
    /// and mask are copied into every row, so a shared prompt is read once and continued many ways.
    func repeatingFirstSequence(_ count: Int) -> KVCache {
        let copy = KVCache(layers: keys.count, width: keys[0].lastDim, batchSize: count, capacity: capacity)
        let filled = length * keys[0].lastDim
        for (source, target) in zip(keys + values, copy.keys + copy.values) {
            let src = source.data.baseAddress!, dst = target.data.baseAddress!
            for b in 0..<count { (dst + b * capacity * source.lastDim).update(from: src, count: filled) }
        }
        for b in 0..<count {
            for t in 0..<length { copy.mask[b * capacity + t] = mask[t] }
        }
        copy.length = length
        return copy
    }

    /// Records which of the `count` incoming tokens per sequence are real.
    func appendMask(_ incoming: [Bool]?, count: Int) {
        precondition(length + count <= capacity, "KV cache full: \(length) + \(count) > \(capacity)")
        for b in 0..<batchSize {
            for t in 0..<count { mask[b * capacity + length + t] = incoming?[b * count + t] ?? true }
        }
        let keys = length + count
        visibleKeyMask = (0..<batchSize).flatMap { b in mask[(b * capacity)..<(b * capacity + keys)] }
    }

    /// Writes the new tokens' keys and values ([batch, count, width]) of `layer` at `length`.
    func store(layer: Int, keys newKeys: Tensor, values newValues: Tensor) {
        let count = newKeys.shape[1], width = newKeys.lastDim
        for (cache, fresh) in [(keys[layer], newKeys), (values[layer], newValues)] {
            let dst = cache.data.baseAddress!, src = fresh.data.baseAddress!
            for b in 0..<batchSize {
                (dst + (b * capacity + length) * width).update(from: src + b * count * width, count: count * width)
            }
        }
    }
}
