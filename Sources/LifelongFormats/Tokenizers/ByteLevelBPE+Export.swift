import Foundation

extension ByteLevelBPETokenizer {
    /// A byte-level BPE tokenizer that tokenises as `ByteTokenizer` does: one token per byte (ids
    /// 0…255 are the bytes), no merges, and `<|endoftext|>` as id 256 — so a model trained from
    /// scratch on bytes can be exported with a tokenizer other tools load.
    public static func bytes() throws -> ByteLevelBPETokenizer {
        let endOfText = ByteTokenizer().endOfText
        return try ByteLevelBPETokenizer(tokens: byteToCharacter.map { String($0) } + ["<|endoftext|>"], merges: [],
                                         specialTokens: ["<|endoftext|>": endOfText], bosToken: endOfText,
                                         eosToken: endOfText, source: "bytes")
    }

    /// The merges in rank order (a pair listed twice in the source file appears once).
    public var merges: [(String, String)] {
        mergeOf.sorted { $0.value.rank < $1.value.rank }
            .map { (tokens[Int($0.key >> 32)], tokens[Int($0.key & 0xFFFF_FFFF)]) }
    }

    /// The special tokens sorted by id.
    public var specialTokensById: [(id: Int, text: String)] {
        specialTokens.map { ($0.value, $0.key) }.sorted { $0.id < $1.id }
    }

    /// Hugging Face's `tokenizer.json` for this tokenizer: a BPE model over the whole vocabulary,
    /// the ByteLevel pre-tokenizer and decoder (preceded by individual-digit splitting when this
    /// tokenizer isolates digits), and every special token as an added token at its id, matched
    /// in raw text and never split — what `huggingFace(tokenizerJSON:)` reads back.
    public func huggingFaceJSON() throws -> Data {
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
        let preTokenizer: [String: Any] = !preTokenizer.isolateDigits ? byteLevel : [
            "type": "Sequence",
            "pretokenizers": [["type": "Digits", "individual_digits": true], byteLevel]]
        let added: [[String: Any]] = specialTokensById.map {
            ["id": $0.id, "content": $0.text, "single_word": false, "lstrip": false, "rstrip": false,
             "normalized": false, "special": true]
        }
        var vocab: [String: Int] = [:]
        for (id, token) in tokens.enumerated() where vocab[token] == nil { vocab[token] = id }
        let model: [String: Any] = [
            "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
            "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges.map { [$0.0, $0.1] }]
        let json: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added,
            "normalizer": NSNull(), "pre_tokenizer": preTokenizer,
            "post_processor": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true],
            "decoder": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
            "model": model]
        return try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// llama.cpp's tokenizer metadata (`tokenizer.ggml.*`) for this tokenizer: what `gguf(_:)`
    /// reads back. `addedFrom`: ids from here on are tokens a run added (user-defined, type 4);
    /// the base vocabulary's special tokens are control tokens (type 3). A model whose embedding
    /// has more rows than the vocabulary (`vocabularySize`) gets unused tokens `[PAD<id>]`
    /// (type 5) for them, as llama.cpp's converter writes: llama.cpp needs one token per row.
    public func ggufMetadata(addedFrom: Int, vocabularySize: Int) -> [(key: String, value: GGUFWriter.Value)] {
        let padding = (tokens.count..<max(tokens.count, vocabularySize)).map { "[PAD\($0)]" }
        let types = (0..<tokens.count).map { id -> Int32 in
            specialTokens[tokens[id]] != id ? 1 : id >= addedFrom ? 4 : 3
        } + padding.map { _ in 5 }
        var metadata: [(key: String, value: GGUFWriter.Value)] = [
            ("tokenizer.ggml.model", .string("gpt2")),
            // llama.cpp's names: `gpt-2` for GPT-2's pre-tokenizer, `smollm` for one that splits off digits first.
            ("tokenizer.ggml.pre", .string(preTokenizer.isolateDigits ? "smollm" : "gpt-2")),
            ("tokenizer.ggml.tokens", .strings(tokens + padding)),
            ("tokenizer.ggml.token_type", .int32s(types)),
            ("tokenizer.ggml.merges", .strings(merges.map { "\($0.0) \($0.1)" })),
            ("tokenizer.ggml.add_bos_token", .bool(false))]
        if let bosToken { metadata.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bosToken)))) }
        if let eosToken { metadata.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eosToken)))) }
        return metadata
    }
}
