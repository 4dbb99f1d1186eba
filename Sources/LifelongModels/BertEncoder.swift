import Foundation
import LifelongEngine
import LifelongFormats

/// The shape of a BERT encoder, from a Hugging Face `config.json` (model_type "bert").
public struct BertConfig: Codable, Equatable, Sendable {
    public var vocabSize, hiddenSize, layerCount, headCount, intermediateSize, maxPositions, typeVocabSize: Int
    public var layerNormEpsilon: Float

    public static func huggingFace(configAt path: String) throws -> BertConfig {
        let json = try JSONFields(contentsOf: path)
        guard try json.string("model_type") == "bert" else { throw FormatError(file: path, "model_type is not 'bert'") }
        if let act = try json.string("hidden_act"), act != "gelu" {
            throw FormatError(file: path, "hidden_act '\(act)' is not supported (gelu)")
        }
        let limits = DecoderConfig.limits
        let config = BertConfig(
            vocabSize: try json.int("vocab_size", in: 1...limits.vocabulary), hiddenSize: try json.int("hidden_size", in: 1...limits.hidden),
            layerCount: try json.int("num_hidden_layers", in: 1...limits.layers),
            headCount: try json.int("num_attention_heads", in: 1...limits.heads),
            intermediateSize: try json.int("intermediate_size", in: 1...limits.intermediate),
            maxPositions: try json.int("max_position_embeddings", in: 1...limits.positions),
            typeVocabSize: try json.int("type_vocab_size", in: 1...1024),
            layerNormEpsilon: try json.float("layer_norm_eps", default: 1e-12, in: 1e-30...0.5))
        guard config.hiddenSize % config.headCount == 0 else {
            throw FormatError(file: path, "hidden_size \(config.hiddenSize) is not a multiple of \(config.headCount) heads")
        }
        return config
    }

    /// A lower bound on the parameter count (embeddings and the layers' matrices), compared with
    /// the checkpoint's values before anything is allocated.
    var minimumParameterCount: Int {
        let d = hiddenSize
        return (vocabSize + maxPositions) * d + layerCount * (4 * d * d + 2 * d * intermediateSize)
    }
}

/// One post-norm encoder layer: h = LN(x + attn(x)), out = LN(h + W₂·gelu(W₁·h)).
final class BertLayer: Module {
    let config: BertConfig
    let query: Linear, key: Linear, value: Linear, attentionOutput: Linear, attentionNorm: Norm
    let intermediate: Linear, output: Linear, outputNorm: Norm

    init(config: BertConfig, rng: inout SeededGenerator?) {
        self.config = config
        let d = config.hiddenSize, ffn = config.intermediateSize
        func dense(_ i: Int, _ o: Int) -> Linear { Linear(inFeatures: i, outFeatures: o, bias: true, layout: .outIn, std: 0.02, rng: &rng) }
        query = dense(d, d); key = dense(d, d); value = dense(d, d); attentionOutput = dense(d, d)
        attentionNorm = Norm(kind: .layerNorm, dim: d, epsilon: config.layerNormEpsilon, rng: &rng)
        intermediate = dense(d, ffn); output = dense(ffn, d)
        outputNorm = Norm(kind: .layerNorm, dim: d, epsilon: config.layerNormEpsilon, rng: &rng)
    }

    var children: [(name: String, module: any Module)] {
        [("attention.self.query", query), ("attention.self.key", key), ("attention.self.value", value),
         ("attention.output.dense", attentionOutput), ("attention.output.LayerNorm", attentionNorm),
         ("intermediate.dense", intermediate), ("output.dense", output), ("output.LayerNorm", outputNorm)]
    }

    func callAsFunction(_ x: Tensor, keyMask: [Bool]?) -> Tensor {
        let heads = config.headCount
        let context = attention(q: query(x), k: key(x), v: value(x), heads: heads, kvHeads: heads, causal: false, keyMask: keyMask)
        let h = attentionNorm(add(x, attentionOutput(context)))
        return outputNorm(add(h, output(geluErf(intermediate(h)))))
    }
}

/// A BERT encoder (absolute positions, token types, post-LayerNorm, erf-GELU). Parameter names
/// are the Hugging Face checkpoint's (`embeddings.*`, `encoder.layer.N.*`).
public final class BertEncoder: Module {
    public let config: BertConfig
    let wordEmbedding: Embedding, positionEmbedding: Embedding, tokenTypeEmbedding: Embedding
    let embeddingNorm: Norm
    let layers: [BertLayer]

    /// With `seed: nil` the parameters are left at zero, for a model about to be loaded.
    public init(config: BertConfig, seed: UInt64?) {
        self.config = config
        var rng = seed.map(SeededGenerator.init(seed:))
        let d = config.hiddenSize
        wordEmbedding = Embedding(count: config.vocabSize, dim: d, std: 0.02, rng: &rng)
        positionEmbedding = Embedding(count: config.maxPositions, dim: d, std: 0.02, rng: &rng)
        tokenTypeEmbedding = Embedding(count: config.typeVocabSize, dim: d, std: 0.02, rng: &rng)
        embeddingNorm = Norm(kind: .layerNorm, dim: d, epsilon: config.layerNormEpsilon, rng: &rng)
        layers = (0..<config.layerCount).map { _ in BertLayer(config: config, rng: &rng) }
    }

    public var children: [(name: String, module: any Module)] {
        [("embeddings.word_embeddings", wordEmbedding), ("embeddings.position_embeddings", positionEmbedding),
         ("embeddings.token_type_embeddings", tokenTypeEmbedding), ("embeddings.LayerNorm", embeddingNorm)]
            + layers.enumerated().map { ("encoder.layer.\($0.offset)", $0.element) }
    }

    /// Loads `config.json` + `model.safetensors` from a Hugging Face directory (the pooler, unused
    /// by sentence embeddings, is ignored).
    public convenience init(huggingFaceDirectory directory: String) throws {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let config = try BertConfig.huggingFace(configAt: configPath)
        let checkpoint = try TensorCheckpoint(directory: directory)
        guard config.minimumParameterCount <= checkpoint.elementCount else {
            throw FormatError(file: configPath, "describes at least \(config.minimumParameterCount) parameters; the checkpoint holds \(checkpoint.elementCount) values")
        }
        self.init(config: config, seed: nil)
        try checkpoint.load(into: namedParameters, optionalPrefix: "bert.",
                                                        ignoring: ["position_ids", "pooler.dense.weight", "pooler.dense.bias"])
    }

    /// Last hidden states [B, T, d] of a batch (token type 0 everywhere; padding masked).
    public func hiddenStates(_ batch: TokenBatch) -> Tensor {
        let positions = batch.positions ?? (0..<batch.batchSize).flatMap { _ in 0..<batch.length }
        precondition(batch.length <= config.maxPositions, "BERT input of \(batch.length) tokens exceeds \(config.maxPositions) positions")
        let shape = [batch.batchSize, batch.length]
        var x = add(add(wordEmbedding(batch.ids, shape: shape), positionEmbedding(positions, shape: shape)),
                    tokenTypeEmbedding([Int](repeating: 0, count: batch.ids.count), shape: shape))
        x = embeddingNorm(x)
        for layer in layers { x = layer(x, keyMask: batch.mask) }
        return x
    }
}

/// sentence-transformers' recipe for all-MiniLM-L6-v2: WordPiece → BERT → mean of the token
/// vectors over the real (unpadded) tokens → L2 normalisation.
public final class SentenceEncoder {
    public let encoder: BertEncoder
    public let tokenizer: WordPieceTokenizer
    public let maxLength: Int

    public init(directory: String) throws {
        encoder = try BertEncoder(huggingFaceDirectory: directory)
        let vocabulary = (directory as NSString).appendingPathComponent("vocab.txt")
        tokenizer = try WordPieceTokenizer.bert(vocabTXT: vocabulary)
        guard tokenizer.vocabularySize <= encoder.config.vocabSize else {
            throw FormatError(file: vocabulary, "has \(tokenizer.vocabularySize) tokens; the model's vocabulary only \(encoder.config.vocabSize)")
        }
        let settings = (directory as NSString).appendingPathComponent("sentence_bert_config.json")
        var sequenceLength = 512
        if FileManager.default.fileExists(atPath: settings) {
            sequenceLength = try JSONFields(contentsOf: settings).optionalInt("max_seq_length", in: 1...1_000_000) ?? 512
        }
        maxLength = min(sequenceLength, encoder.config.maxPositions)
    }

    /// Unit-length embeddings, one per text, computed in batches of `batchSize`.
    public func embed(_ texts: [String], batchSize: Int = 32) -> [[Float]] {
        var result: [[Float]] = []
        for start in stride(from: 0, to: texts.count, by: batchSize) {
            let rows = texts[start..<min(start + batchSize, texts.count)].map { tokenizer.encodeForModel($0, maxLength: maxLength) }
            let length = rows.map(\.count).max()!
            let batch = TokenBatch(ids: rows.flatMap { $0 + [Int](repeating: tokenizer.padding, count: length - $0.count) },
                                   batchSize: rows.count, length: length,
                                   mask: rows.flatMap { row in (0..<length).map { $0 < row.count } })
            let hidden = noGrad { encoder.hiddenStates(batch) }
            let d = encoder.config.hiddenSize, h = hidden.data
            for (b, row) in rows.enumerated() {
                var total = [Double](repeating: 0, count: d)  // the mean up to a factor that normalising removes
                for t in 0..<row.count { for j in 0..<d { total[j] += Double(h[(b * length + t) * d + j]) } }
                let norm = max(total.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
                result.append(total.map { Float($0 / norm) })
            }
        }
        return result
    }
}
