import Foundation
import LifelongEngine
import LifelongFormats

extension DecoderConfig {
    /// The configuration of a GGUF file of a family that has a GGUF layout (`llama.*` metadata
    /// for `general.architecture` = `llama`).
    public static func gguf(_ file: GGUFFile) throws -> DecoderConfig {
        let architecture = try file.require("general.architecture").string ?? ""
        guard let family = DecoderFamilies.gguf(architecture), let layout = family.gguf else {
            let known = DecoderFamilies.all.compactMap { $0.gguf?.architecture }.joined(separator: ", ")
            throw FormatError(file: file.path, "general.architecture '\(architecture)' is not supported (\(known))")
        }
        let limits = DecoderConfig.limits
        /// An integer key in 1…limit (absent: `fallback`, or an error when there is none).
        func int(_ key: String, _ limit: Int, default fallback: Int? = nil) throws -> Int {
            let name = "\(architecture)." + key
            guard let v = try file.optionalInt(name) ?? fallback else { throw FormatError(file: file.path, "metadata key \(name) is missing") }
            guard (1...limit).contains(v) else { throw FormatError(file: file.path, "\(name) must be in 1…\(limit), not \(v)") }
            return v
        }
        func float(_ key: String, default fallback: Double) throws -> Float {
            let name = "\(architecture)." + key
            guard let value = file.metadata[name] else { return Float(fallback) }
            guard let v = value.double, v.isFinite else { throw FormatError(file: file.path, "\(name) must be a finite number") }
            return Float(v)
        }
        let heads = try int("attention.head_count", limits.heads)
        let tokenCount = file.metadata["tokenizer.ggml.tokens"]?.array?.count
        let config = DecoderConfig(
            architecture: family.architecture, vocabSize: try int("vocab_size", limits.vocabulary, default: tokenCount ?? 0),
            hiddenSize: try int("embedding_length", limits.hidden),
            layerCount: try int("block_count", limits.layers), headCount: heads,
            kvHeadCount: try int("attention.head_count_kv", limits.heads, default: heads),
            intermediateSize: try int("feed_forward_length", limits.intermediate),
            maxPositions: try int("context_length", limits.positions),
            normEpsilon: try float(layout.normEpsilonKey, default: 1e-5),
            ropeTheta: try float("rope.freq_base", default: 10_000),
            tieWordEmbeddings: file.info("output.weight") == nil)
        do { try config.validate() } catch let error as FormatError { throw FormatError(file: file.path, error.message) }
        return config
    }
}

extension DecoderLM {
    /// Loads a GGUF file (of a family with a GGUF layout: Llama), dequantising every tensor to fp32.
    ///
    /// With `keepQuantized`, matrices stored as Q4_0, Q4_1 or Q8_0 are also kept in that form and
    /// inference multiplies by them directly (4–6× fewer bytes read per token than fp32, the same
    /// weight values). Such a model refuses to train until `dropQuantizedWeights()` is called.
    public convenience init(gguf path: String, keepQuantized: Bool = false) throws {
        let file = try GGUFFile(path: path)
        let config = try DecoderConfig.gguf(file)
        try config.checkFits(elements: file.tensors.reduce(0) { $0 + $1.elementCount }, file: path)
        self.init(config: config, seed: nil)
        try load(file, keepQuantized: keepQuantized)
    }

    /// The GGUF name of each of our (Hugging Face) parameter names (nil: the file has no place for it).
    func ggufName(_ name: String, _ layout: GGUFLayout) -> String? {
        var fixed = ["\(names.tokenEmbedding).weight": "token_embd.weight", "\(names.finalNorm).weight": "output_norm.weight",
                     "\(names.finalNorm).bias": "output_norm.bias", "lm_head.weight": "output.weight"]
        if let positions = names.positionEmbedding { fixed["\(positions).weight"] = "position_embd.weight" }
        if let n = fixed[name] { return n }
        guard name.hasPrefix(names.blocks + ".") else { return nil }
        let parts = name.dropFirst(names.blocks.count + 1).split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let block = Int(parts[0]), let inner = layout.blockTensors[String(parts[1])] else { return nil }
        return "blk.\(block).\(inner)"
    }

    /// Sets every parameter from a GGUF file. llama.cpp stores q and k rows permuted for its
    /// interleaved rotary layout; they are permuted back to the "rotate half" layout used here
    /// (and by Hugging Face), as transformers does when it loads a GGUF.
    public func load(_ file: GGUFFile, keepQuantized: Bool = false) throws {
        guard let layout = config.family.gguf else {
            throw FormatError(file: file.path, "the \(config.architecture.rawValue) family has no GGUF layout")
        }
        var used = Set<String>()
        var loads: [(GGUFFile.TensorInfo, Tensor, Int?, Bool)] = []
        for (name, tensor) in namedParameters {
            let mapped = ggufName(name, layout)
            guard let ggufName = mapped, let info = file.info(ggufName) else {
                throw FormatError(file: file.path, "missing tensor for parameter '\(name)' (\(mapped ?? "no GGUF name"))")
            }
            let transposed = layout.isTransposed(name, blocks: names.blocks)
            guard info.shape == (transposed ? tensor.shape.reversed() : tensor.shape) else {
                throw FormatError(file: file.path, "tensor '\(ggufName)' has shape \(info.shape), the model expects \(transposed ? tensor.shape.reversed() : tensor.shape)")
            }
            let permutedHeads = !layout.rotaryRowsPermuted ? nil : name.hasSuffix("q_proj.weight") ? config.headCount
                : name.hasSuffix("k_proj.weight") ? config.kvHeadCount : nil
            loads.append((info, tensor, permutedHeads, transposed))
            used.insert(ggufName)
        }
        if let extra = file.tensors.first(where: { !used.contains($0.name) && $0.name != "rope_freqs.weight" }) {
            throw FormatError(file: file.path, "tensor '\(extra.name)' has no place in the model")
        }
        dropQuantizedWeights()
        let layers = Dictionary(uniqueKeysWithValues: linearLayers.map { (ObjectIdentifier($0.weight), $0) })
        for (info, tensor, heads, transposed) in loads {
            let rowOrder = heads.map { rotaryRowSource(rows: tensor.shape[0], heads: $0) }
            file.dequantize(info, into: tensor.data)
            try tensor.requireFinite(info.name, file: file.path)
            if transposed {  // [out, in] in the file, [in, out] here; such a weight is never kept quantised
                let inOut = Tensor(tensor.scalars, shape: info.shape).transposedValues()
                _ = tensor.data.update(from: inOut.scalars)
                continue
            }
            if let rowOrder {
                let columns = tensor.shape[1], w = tensor.data.baseAddress!
                tensor.scalars.withUnsafeBufferPointer { copy in
                    for (row, from) in rowOrder.enumerated() {
                        (w + row * columns).update(from: copy.baseAddress! + from * columns, count: columns)
                    }
                }
            }
            guard keepQuantized, tensor.shape.count == 2, let format = info.type.keptQuantizedFormat else { continue }
            let quantized = QuantizedMatrix(format: format, rows: tensor.shape[0], columns: tensor.shape[1],
                                            source: file.rawBytes(info), rowOrder: rowOrder)
            if tensor === tokenEmbedding.weight && lmHead == nil {
                tokenEmbedding.quantized = quantized
            } else if let layer = layers[ObjectIdentifier(tensor)] {
                layer.quantized = quantized
            }
        }
    }
}

extension GGMLType {
    /// The engine's quantised format for this type, when it has kernels for it.
    var keptQuantizedFormat: QuantizedMatrix.Format? {
        switch self {
        case .q4_0: .q4_0
        case .q4_1: .q4_1
        case .q8_0: .q8_0
        default: nil
        }
    }
}

/// For each row of the rotate-half layout, the row of llama.cpp's interleaved layout it comes
/// from: row h·D + s·D/2 + i is row h·D + 2i + s.
func rotaryRowSource(rows: Int, heads: Int) -> [Int] {
    let headDim = rows / heads, half = headDim / 2
    var source = [Int](repeating: 0, count: rows)
    for h in 0..<heads {
        for i in 0..<half {
            for s in 0..<2 { source[h * headDim + s * half + i] = h * headDim + 2 * i + s }
        }
    }
    return source
}
