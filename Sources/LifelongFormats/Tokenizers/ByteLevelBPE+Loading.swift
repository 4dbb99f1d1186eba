import Foundation

extension ByteLevelBPETokenizer {
    /// The tokenizer stored in a GGUF file (`tokenizer.ggml.model` = "gpt2"). Control and
    /// user-defined tokens (types 3 and 4) are the special tokens.
    public static func gguf(_ file: GGUFFile) throws -> ByteLevelBPETokenizer {
        let model = try file.require("tokenizer.ggml.model").string
        guard model == "gpt2" else {
            throw FormatError(file: file.path, "tokenizer.ggml.model '\(model ?? "?")' is not byte-level BPE (gpt2)")
        }
        guard let tokenValues = try file.require("tokenizer.ggml.tokens").array else {
            throw FormatError(file: file.path, "tokenizer.ggml.tokens is not an array")
        }
        let tokens = try tokenValues.enumerated().map { i, v -> String in
            guard let s = v.string else { throw FormatError(file: file.path, "tokenizer.ggml.tokens[\(i)] is not a string") }
            return s
        }
        let merges = try (file.optionalArray("tokenizer.ggml.merges") ?? []).enumerated().map { i, v in
            try splitMerge(v.string, index: i, source: file.path)
        }
        var specials: [String: Int] = [:]
        if let types = try file.optionalArray("tokenizer.ggml.token_type") {
            guard types.count == tokens.count else {
                throw FormatError(file: file.path, "tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
            }
            for (id, type) in types.enumerated() {
                guard let kind = type.int, (0...6).contains(kind) else {
                    throw FormatError(file: file.path, "tokenizer.ggml.token_type[\(id)] must be a token type 0…6")
                }
                if kind == 3 || kind == 4 { specials[tokens[id]] = id }
            }
        }
        let pre = try file.optionalString("tokenizer.ggml.pre") ?? "default"
        guard ["default", "gpt2", "gpt-2", "smollm"].contains(pre) else {
            throw FormatError(file: file.path, "tokenizer.ggml.pre '\(pre)' is not supported (gpt2, smollm)")
        }
        return try ByteLevelBPETokenizer(
            tokens: tokens, merges: merges, specialTokens: specials, preTokenizer: GPT2PreTokenizer(),
            bosToken: try file.optionalInt("tokenizer.ggml.bos_token_id"), eosToken: try file.optionalInt("tokenizer.ggml.eos_token_id"),
            source: file.path)
    }

    /// A Hugging Face `tokenizer.json` with a BPE model and a ByteLevel pre-tokenizer (optionally
    /// preceded by individual-digit splitting).
    public static func huggingFace(tokenizerJSON path: String) throws -> ByteLevelBPETokenizer {
        guard let data = try? UserFile.data(path),
              let json = try StrictJSON.object(data, file: path) as? [String: Any] else {
            throw FormatError(file: path, "cannot read a JSON object")
        }
        guard let model = json["model"] as? [String: Any], model["type"] as? String == "BPE",
              let vocab = model["vocab"] as? [String: Any] else {
            throw FormatError(file: path, "model must be a BPE model with a vocab")
        }
        var isolateDigits = false
        for step in try preTokenizerSteps(json["pre_tokenizer"], source: path) {
            switch step["type"] as? String {
            case "ByteLevel":
                if step["add_prefix_space"] as? Bool == true {
                    throw FormatError(file: path, "pre_tokenizer ByteLevel with add_prefix_space is not supported")
                }
            case "Digits":
                guard step["individual_digits"] as? Bool == true else {
                    throw FormatError(file: path, "pre_tokenizer Digits without individual_digits is not supported")
                }
                isolateDigits = true
            default:
                throw FormatError(file: path, "pre_tokenizer '\(step["type"] ?? "?")' is not supported (ByteLevel, Digits)")
            }
        }
        var specials: [String: Int] = [:]
        guard let added = (json["added_tokens"] ?? []) as? [Any] else { throw FormatError(file: path, "added_tokens must be a list") }
        for (i, entry) in added.enumerated() {
            guard let entry = entry as? [String: Any], let content = entry["content"] as? String, !content.isEmpty,
                  let id = entry["id"].flatMap(JSONFields.integer) else {
                throw FormatError(file: path, "added_tokens[\(i)] needs a non-empty 'content' and an integer 'id'")
            }
            specials[content] = id
        }
        let tokens = try denseVocabulary(vocab, extra: specials, source: path)
        guard let mergeList = (model["merges"] ?? []) as? [Any] else { throw FormatError(file: path, "model.merges must be a list") }
        let merges = try mergeList.enumerated().map { i, entry -> (String, String) in
            if let pair = entry as? [String] {
                guard pair.count == 2 else { throw FormatError(file: path, "model.merges[\(i)] must be two tokens") }
                return (pair[0], pair[1])
            }
            return try splitMerge(entry as? String, index: i, source: path)
        }
        return try ByteLevelBPETokenizer(tokens: tokens, merges: merges, specialTokens: specials,
                                         preTokenizer: GPT2PreTokenizer(isolateDigits: isolateDigits), source: path)
    }

    /// GPT-2's original pair of files: `vocab.json` (token → id) and `merges.txt` (one merge a line).
    public static func gpt2(vocabJSON: String, mergesTXT: String) throws -> ByteLevelBPETokenizer {
        guard let data = try? UserFile.data(vocabJSON),
              let vocab = try StrictJSON.object(data, file: vocabJSON) as? [String: NSNumber] else {
            throw FormatError(file: vocabJSON, "expected a JSON object of token → id")
        }
        guard let text = try? UserFile.text(mergesTXT) else {
            throw FormatError(file: mergesTXT, "cannot read as UTF-8 text")
        }
        var merges: [(String, String)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("#version") || line.isEmpty { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { throw FormatError(file: mergesTXT, "line \(number + 1): expected two tokens") }
            merges.append((String(parts[0]), String(parts[1])))
        }
        let tokens = try denseVocabulary(vocab, extra: [:], source: vocabJSON)
        let eos = tokens.firstIndex(of: "<|endoftext|>")
        return try ByteLevelBPETokenizer(tokens: tokens, merges: merges,
                                         specialTokens: eos.map { ["<|endoftext|>": $0] } ?? [:],
                                         bosToken: eos, eosToken: eos, source: vocabJSON)
    }
}

private func splitMerge(_ merge: String?, index: Int, source: String) throws -> (String, String) {
    let parts = merge?.split(separator: " ", omittingEmptySubsequences: false) ?? []
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
        throw FormatError(file: source, "merge \(index) is not two tokens separated by a space")
    }
    return (String(parts[0]), String(parts[1]))
}

/// The steps of a `pre_tokenizer` (one, or a `Sequence`'s list); absent or null: none.
private func preTokenizerSteps(_ value: Any?, source: String) throws -> [[String: Any]] {
    guard let value, !(value is NSNull) else { return [] }
    guard let pre = value as? [String: Any] else { throw FormatError(file: source, "pre_tokenizer must be an object") }
    guard pre["type"] as? String == "Sequence" else { return [pre] }
    guard let steps = pre["pretokenizers"] as? [[String: Any]] else {
        throw FormatError(file: source, "pre_tokenizer.pretokenizers must be a list of objects")
    }
    return steps
}

/// id → token for ids 0..<n, which must all be present exactly once; `vocab`'s ids are the
/// file's JSON values, each an exact integer.
private func denseVocabulary(_ vocab: [String: Any], extra: [String: Int], source: String) throws -> [String] {
    var ids: [String: Int] = [:]
    for (token, value) in vocab {
        guard let id = JSONFields.integer(value) else { throw FormatError(file: source, "token '\(token)' must be an integer id, not \(value)") }
        ids[token] = id
    }
    let all = ids.merging(extra) { a, _ in a }
    let limit = ByteLevelBPETokenizer.maxVocabularySize
    if let (token, id) = all.first(where: { !(0..<limit).contains($0.value) }) {
        throw FormatError(file: source, "token '\(token)' has id \(id), outside 0..<\(limit)")
    }
    let count = (all.values.max() ?? -1) + 1
    guard count <= all.count + extra.count else {
        throw FormatError(file: source, "vocabulary ids must be 0..<n without gaps")
    }
    var tokens = [String?](repeating: nil, count: count)
    for (token, id) in all {
        if let other = tokens[id], other != token, extra[token] == nil {
            throw FormatError(file: source, "id \(id) is given to both '\(other)' and '\(token)'")
        }
        tokens[id] = tokens[id] ?? token
    }
    guard let missing = tokens.firstIndex(where: { $0 == nil }) else { return tokens.map { $0! } }
    throw FormatError(file: source, "no token has id \(missing)")
}
