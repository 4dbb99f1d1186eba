import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels
import Testing

/// all-MiniLM-L6-v2 against sentence-transformers and Hugging Face's tokenizer
/// (scripts/make_real_model_fixtures.py). `make test` pulls the model first.
@Suite(.serialized) struct MiniLMTests {
    struct Expected: Decodable {
        let sentences: [String]
        let embeddings: [[Float]]
        let token_ids: [[Int]]
    }

    static let encoder: SentenceEncoder? = ModelCache().path(of: "minilm-l6").flatMap { try? SentenceEncoder(directory: $0) }
    static let expected = try? JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: Fixture.path("minilm.expected.json"))))

    func require<T>(_ value: T?) throws -> T {
        guard let value else { throw FormatError(file: "minilm-l6", "model or fixture missing: run `lifelong models pull minilm-l6` (make test does)") }
        return value
    }

    @Test func wordPieceMatchesTransformersOnTheCorpus() throws {
        let (encoder, expected) = (try require(Self.encoder), try require(Self.expected))
        let texts = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: Fixture.path("tokenizer-corpus.json"))))
        #expect(texts.count == expected.token_ids.count)
        var mismatches = 0
        for (text, ids) in zip(texts, expected.token_ids) {
            let ours = encoder.tokenizer.encodeForModel(text)
            if ours != ids { mismatches += 1; Issue.record("\(text.debugDescription): \(ours) ≠ transformers \(ids)") }
        }
        #expect(mismatches == 0)
    }

    @Test func embeddingsMatchSentenceTransformers() throws {
        let (encoder, expected) = (try require(Self.encoder), try require(Self.expected))
        let ours = encoder.embed(expected.sentences, batchSize: 8)
        for (i, (a, b)) in zip(ours, expected.embeddings).enumerated() {
            let cosine = zip(a, b).reduce(Float(0)) { $0 + $1.0 * $1.1 } / (norm(a) * norm(b))
            #expect(cosine >= 0.9999, "sentence \(i) \(expected.sentences[i].debugDescription): cosine \(cosine)")
            #expect(abs(norm(a) - 1) < 1e-5)
        }
    }

    func norm(_ v: [Float]) -> Float { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}
