import Foundation
import LifelongFormats
import Testing

/// The tokenizer.json and vocab.json + merges.txt loaders against Hugging Face `tokenizers` on the
/// parity corpus (tiny BPE vocabularies trained by scripts/make_fixtures.py).
@Suite struct BPEFileTests {
    static let texts = try! JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: Fixture.path("tokenizer-corpus.json"))))
    static let expected = try! JSONDecoder().decode([String: [[Int]]].self, from: Data(contentsOf: URL(fileURLWithPath: Fixture.path("bpe-tokens.json"))))

    func expectParity(_ tokenizer: ByteLevelBPETokenizer, _ name: String) {
        let ids = Self.expected[name]!
        #expect(ids.count == Self.texts.count)
        var mismatches = 0
        for (text, expected) in zip(Self.texts, ids) {
            let ours = tokenizer.encode(text)
            if ours != expected { mismatches += 1; Issue.record("\(name) \(text.debugDescription): \(ours) ≠ \(expected)") }
            #expect(tokenizer.decode(ours) == text)
        }
        #expect(mismatches == 0)
    }

    @Test func tokenizerJSONWithIndividualDigits() throws {
        let tokenizer = try ByteLevelBPETokenizer.huggingFace(tokenizerJSON: Fixture.path("bpe-digits/tokenizer.json"))
        #expect(tokenizer.preTokenizer.isolateDigits)
        expectParity(tokenizer, "bpe-digits")
    }

    @Test func vocabAndMergesFiles() throws {
        let tokenizer = try ByteLevelBPETokenizer.gpt2(vocabJSON: Fixture.path("bpe-gpt2/vocab.json"), mergesTXT: Fixture.path("bpe-gpt2/merges.txt"))
        expectParity(tokenizer, "bpe-gpt2")
    }

    @Test func malformedTokenizerFilesNameTheProblem() throws {
        let path = NSTemporaryDirectory() + "tokenizer-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"{"model": {"type": "WordPiece", "vocab": {}}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try ByteLevelBPETokenizer.huggingFace(tokenizerJSON: path) } throws: { "\($0)".contains("must be a BPE model") }
        try #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}, "pre_tokenizer": {"type": "Whitespace"}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try ByteLevelBPETokenizer.huggingFace(tokenizerJSON: path) } throws: { "\($0)".contains("pre_tokenizer 'Whitespace' is not supported") }
    }
}
