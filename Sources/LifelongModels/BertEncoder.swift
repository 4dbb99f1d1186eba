import Foundation
import LifelongEngine
import LifelongFormats

/// The shape of a BERT encoder, from a Hugging Face `config.json` (model_type "bert").
public struct BertConfig: Codable, Equatable, Sendable {
    public var vocabSize, hiddenSize, layerCount, headCount, intermediateSize, maxPositions, typeVocabSize: Int
    public var layerNormEpsilon: Float

    public static func huggingFace(configAt path: String) throws -> BertConfig {
        guard let data = FileManager.default.contents(atPath: path),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FormatError(file: path, "cannot read a JSON object")
        }
        guard json["model_type"] as? String == "bert" else { throw FormatError(file: path, "model_type is not 'bert'") }
        if let act = json["hidden_act"] as? String, act != "gelu" {
            throw FormatError(file: path, "hidden_act '\(act)' is not supported (gelu)")
        }
        func int(_ key: String) throws -> Int {
            guard let n = (json[key] as? NSNumber)?.intValue, n > 0 else { throw FormatError(file: path, "field '\(key)' is missing or not a positive integer") }
            return n
        }
        let config = BertConfig(
            vocabSize: try int("vocab_size"), hiddenSize: try int("hidden_size"), layerCount: try int("num_hidden_layers"),
            headCount: try int("num_attention_heads"), intermediateSize: try int("intermediate_size"),
            maxPositions: try int("max_position_embeddings"), typeVocabSize: try int("type_vocab_size"),
            layerNormEpsilon: (json["layer_norm_eps"] as? NSNumber)?.floatValue ?? 1e-12)
        guard config.hiddenSize % config.headCount == 0 else {
            throw FormatError(file: path, "hidden_size \(config.hiddenSize) is not a multiple of \(config.headCount) heads")
        }
        return config
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

    var namedParameters: [(name: String, tensor: Tensor)] {
        scoped("attention.self.query", query) + scoped("attention.self.key", key) + scoped("attention.self.value", value)
            + scoped("attention.output.dense", attentionOutput) + scoped("attention.output.LayerNorm", attentionNorm)
            + scoped("intermediate.dense", intermediate) + scoped("output.dense", output) + scoped("output.LayerNorm", outputNorm)
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

    public var namedParameters: [(name: String, tensor: Tensor)] {
        var result = scoped("embeddings.word_embeddings", wordEmbedding) + scoped("embeddings.position_embeddings", positionEmbedding)
            + scoped("embeddings.token_type_embeddings", tokenTypeEmbedding) + scoped("embeddings.LayerNorm", embeddingNorm)
        for (i, layer) in layers.enumerated() { result += scoped("encoder.layer.\(i)", layer) }
        return result
    }

    /// Loads `config.json` + `model.safetensors` from a Hugging Face directory (the pooler, unused
    /// by sentence embeddings, is ignored).
    public convenience init(huggingFaceDirectory directory: String) throws {
        self.init(config: try BertConfig.huggingFace(configAt: (directory as NSString).appendingPathComponent("config.json")), seed: nil)
        try TensorCheckpoint(directory: directory).load(into: namedParameters, optionalPrefix: "bert.",
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
        tokenizer = try WordPieceTokenizer.bert(vocabTXT: (directory as NSString).appendingPathComponent("vocab.txt"))
        let settings = (directory as NSString).appendingPathComponent("sentence_bert_config.json")
        let json = FileManager.default.contents(atPath: settings).flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any]
        maxLength = min((json?["max_seq_length"] as? NSNumber)?.intValue ?? 512, encoder.config.maxPositions)
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
