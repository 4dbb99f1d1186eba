import Foundation

/// BERT's WordPiece tokenizer (uncased), as Hugging Face's `BertNormalizer` + `BertPreTokenizer` +
/// `WordPiece` + the [CLS] … [SEP] template:
///  1. normalise: drop control characters and U+FFFD, turn every whitespace into a space, put
///     spaces around CJK ideographs, strip accents (NFD, then drop non-spacing marks), lower-case;
///  2. split on whitespace and make every punctuation character a word of its own;
///  3. split each word greedily into the longest vocabulary pieces, continuations prefixed "##";
///     a word that cannot be split (or longer than 100 characters) becomes [UNK].
public final class WordPieceTokenizer: Tokenizer, @unchecked Sendable {
    public let tokens: [String]
    private let idOfToken: [String: Int]
    public let unknown: Int, classify: Int, separator: Int, padding: Int
    public let lowercase: Bool
    public let stripAccents: Bool
    let maxCharactersPerWord = 100

    public var vocabularySize: Int { tokens.count }

    public init(tokens: [String], lowercase: Bool = true, stripAccents: Bool? = nil, source: String) throws {
        self.tokens = tokens
        var ids: [String: Int] = [:]
        for (id, token) in tokens.enumerated() where ids[token] == nil { ids[token] = id }
        idOfToken = ids
        func special(_ name: String) throws -> Int {
            guard let id = ids[name] else { throw FormatError(file: source, "the vocabulary has no \(name) token") }
            return id
        }
        unknown = try special("[UNK]"); classify = try special("[CLS]"); separator = try special("[SEP]"); padding = try special("[PAD]")
        self.lowercase = lowercase
        self.stripAccents = stripAccents ?? lowercase  // BERT strips accents whenever it lower-cases
    }

    /// `vocab.txt`: one token per line, the line number is the id.
    public static func bert(vocabTXT path: String, lowercase: Bool = true) throws -> WordPieceTokenizer {
        let text = try UserFile.text(path)
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        return try WordPieceTokenizer(tokens: lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }, lowercase: lowercase, source: path)
    }

    /// Ids of `text` without [CLS] and [SEP].
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        for word in words(of: normalize(text)) { ids += wordPieces(word) }
        return ids
    }

    /// [CLS] text [SEP], truncated so that the whole is at most `maxLength` tokens.
    public func encodeForModel(_ text: String, maxLength: Int = 512) -> [Int] {
        [classify] + encode(text).prefix(max(0, maxLength - 2)) + [separator]
    }

    public func decode(_ ids: [Int]) -> String {
        var text = ""
        for id in ids where id >= 0 && id < tokens.count && id != classify && id != separator && id != padding {
            let token = tokens[id]
            if token.hasPrefix("##") { text += token.dropFirst(2) } else { text += (text.isEmpty ? "" : " ") + token }
        }
        return text
    }

    func normalize(_ text: String) -> String {
        var cleaned = String.UnicodeScalarView()
        for c in text.unicodeScalars {
            if c.value == 0 || c.value == 0xFFFD || isControl(c) { continue }
            if isBertWhitespace(c) { cleaned.append(" "); continue }
            if isCJK(c) { cleaned.append(" "); cleaned.append(c); cleaned.append(" "); continue }
            cleaned.append(c)
        }
        var result = String(cleaned)
        if stripAccents {
            result = String(String.UnicodeScalarView(result.decomposedStringWithCanonicalMapping.unicodeScalars.filter {
                $0.properties.generalCategory != .nonspacingMark
            }))
        }
        return lowercase ? result.lowercased() : result
    }

    func words(of text: String) -> [String] {
        var words: [String] = [], current = String.UnicodeScalarView()
        func flush() { if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() } }
        for c in text.unicodeScalars {
            if c.properties.isWhitespace { flush() } else if isPunctuation(c) { flush(); words.append(String(c)) } else { current.append(c) }
        }
        flush()
        return words
    }

    func wordPieces(_ word: String) -> [Int] {
        let chars = Array(word.unicodeScalars)
        guard chars.count <= maxCharactersPerWord else { return [unknown] }
        var pieces: [Int] = [], start = 0
        while start < chars.count {
            var end = chars.count, found: Int? = nil
            while start < end {
                var candidate = String(String.UnicodeScalarView(chars[start..<end]))
                if start > 0 { candidate = "##" + candidate }
                if let id = idOfToken[candidate] { found = id; break }
                end -= 1
            }
            guard let id = found else { return [unknown] }
            pieces.append(id)
            start = end
        }
        return pieces
    }
}

private func isControl(_ c: Unicode.Scalar) -> Bool {
    if c == "\t" || c == "\n" || c == "\r" { return false }
    let category = c.properties.generalCategory
    return category == .control || category == .format
}

private func isBertWhitespace(_ c: Unicode.Scalar) -> Bool {
    c == " " || c == "\t" || c == "\n" || c == "\r" || c.properties.generalCategory == .spaceSeparator
}

private func isPunctuation(_ c: Unicode.Scalar) -> Bool {
    let v = c.value
    if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
    switch c.properties.generalCategory {
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
         .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
    default: return false
    }
}

private func isCJK(_ c: Unicode.Scalar) -> Bool {
    switch c.value {
    case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
         0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
    default: return false
    }
}
