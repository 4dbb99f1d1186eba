import Foundation

/// Byte-level BPE (GPT-2, Llama 3, SmolLM2): text → UTF-8 bytes, each byte shown as a printable
/// character, pieces from the pre-tokenizer, then merges applied by rank within each piece.
///
/// Special (added) tokens written in the text are matched first, longest first, and never split.
public final class ByteLevelBPETokenizer: Tokenizer, @unchecked Sendable {
    /// Token strings by id, in the byte-as-character form of the vocabulary files ("Ġthe").
    public let tokens: [String]
    public let preTokenizer: GPT2PreTokenizer
    public let specialTokens: [String: Int]
    public let bosToken: Int?, eosToken: Int?

    private let idOfToken: [String: Int]
    private let byteTokens: [Int32]                    // token id of each single byte, −1 if none
    let mergeOf: [UInt64: (rank: Int32, id: Int32)]
    private let specialsLongestFirst: [(text: [UInt8], id: Int)]
    private var cache: [String: [Int]] = [:]
    private let cacheLock = NSLock()

    public var vocabularySize: Int { tokens.count }
    /// Ids from a file must lie below this (4M, beyond any real vocabulary), so that no id can ask
    /// for an unbounded table.
    public static let maxVocabularySize = 1 << 22
    public var endOfTextToken: Int? { eosToken }

    /// `merges` are pairs of token strings in priority order; `specialTokens` maps text to id.
    public init(tokens: [String], merges: [(String, String)], specialTokens: [String: Int] = [:],
                preTokenizer: GPT2PreTokenizer = GPT2PreTokenizer(), bosToken: Int? = nil, eosToken: Int? = nil,
                source: String) throws {
        self.tokens = tokens
        self.preTokenizer = preTokenizer
        self.specialTokens = specialTokens
        self.bosToken = bosToken; self.eosToken = eosToken
        var ids: [String: Int] = [:]
        for (id, token) in tokens.enumerated() where ids[token] == nil { ids[token] = id }
        idOfToken = ids
        // Some vocabularies lack tokens for bytes never seen in training (control characters);
        // like Hugging Face's BPE without an unknown token, such bytes are dropped.
        byteTokens = (0..<256).map { ids[String(byteToCharacter[$0])].map(Int32.init) ?? -1 }
        guard byteTokens.filter({ $0 >= 0 }).count >= 128 else {
            throw FormatError(file: source, "the vocabulary lacks most single-byte tokens: not a byte-level BPE vocabulary")
        }
        var mergeOf: [UInt64: (Int32, Int32)] = [:]
        for (rank, (a, b)) in merges.enumerated() {
            guard let left = ids[a], let right = ids[b], let merged = ids[a + b] else {
                throw FormatError(file: source, "merge \(rank) '\(a) \(b)' uses a token that is not in the vocabulary")
            }
            let key = UInt64(left) << 32 | UInt64(right)
            if mergeOf[key] == nil { mergeOf[key] = (Int32(rank), Int32(merged)) }
        }
        self.mergeOf = mergeOf
        for (text, id) in specialTokens where id < 0 || id >= tokens.count {
            throw FormatError(file: source, "special token '\(text)' has id \(id) outside the vocabulary")
        }
        for (name, id) in [("bos", bosToken), ("eos", eosToken)] {
            if let id, !tokens.indices.contains(id) {
                throw FormatError(file: source, "the \(name) token id \(id) is outside the vocabulary of \(tokens.count) tokens")
            }
        }
        specialsLongestFirst = Self.longestFirst(specialTokens)
    }

    /// Special tokens as UTF-8 bytes, longest first, so that the longest match wins.
    private static func longestFirst(_ specials: [String: Int]) -> [(text: [UInt8], id: Int)] {
        specials.map { (Array($0.key.utf8), $0.value) }.filter { !$0.0.isEmpty }.sorted { $0.0.count > $1.0.count }
    }

    public func id(of token: String) -> Int? { idOfToken[token] ?? specialTokens[token] }

    private init(copying other: ByteLevelBPETokenizer, tokens: [String], specialTokens: [String: Int]) {
        self.tokens = tokens
        preTokenizer = other.preTokenizer
        self.specialTokens = specialTokens
        bosToken = other.bosToken; eosToken = other.eosToken
        var ids = other.idOfToken
        for (text, id) in specialTokens where ids[text] == nil { ids[text] = id }
        idOfToken = ids
        byteTokens = other.byteTokens
        mergeOf = other.mergeOf
        specialsLongestFirst = Self.longestFirst(specialTokens)
    }

    /// A tokenizer with `newTokens` appended as special tokens (ids from `vocabularySize` on),
    /// for task tokens such as LAMOL's `__ans__`. Tokens it already has keep their ids.
    public func adding(specialTokens newTokens: [String]) -> ByteLevelBPETokenizer {
        var tokens = self.tokens, specials = specialTokens
        for token in newTokens where id(of: token) == nil {
            specials[token] = tokens.count
            tokens.append(token)
        }
        return ByteLevelBPETokenizer(copying: self, tokens: tokens, specialTokens: specials)
    }

    public func encode(_ text: String) -> [Int] {
        var result: [Int] = []
        for segment in splitOnSpecialTokens(text) {
            switch segment {
            case let .special(id): result.append(id)
            case let .text(plain): for piece in preTokenizer.split(plain) { result += encodePiece(piece) }
            }
        }
        return result
    }

    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < tokens.count {
            if specialTokens[tokens[id]] == id {
                bytes += Array(tokens[id].utf8)
                continue
            }
            for c in tokens[id].unicodeScalars {
                if let b = characterToByte[c] { bytes.append(b) } else { bytes += Array(String(c).utf8) }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private enum Segment { case text(String), special(Int) }

    private func splitOnSpecialTokens(_ text: String) -> [Segment] {
        guard !specialsLongestFirst.isEmpty else { return [.text(text)] }
        let bytes = Array(text.utf8)
        var segments: [Segment] = [], start = 0, i = 0
        while i < bytes.count {
            if let match = specialsLongestFirst.first(where: { s in
                i + s.text.count <= bytes.count && bytes[i..<(i + s.text.count)].elementsEqual(s.text)
            }) {
                if start < i { segments.append(.text(String(decoding: bytes[start..<i], as: UTF8.self))) }
                segments.append(.special(match.id))
                i += match.text.count; start = i
            } else {
                i += 1
            }
        }
        if start < bytes.count { segments.append(.text(String(decoding: bytes[start...], as: UTF8.self))) }
        return segments
    }

    /// BPE on one piece: start from byte tokens, repeatedly merge the adjacent pair with the lowest
    /// rank (leftmost on ties) until no pair can merge.
    private func encodePiece(_ piece: String) -> [Int] {
        cacheLock.lock()
        if let hit = cache[piece] { cacheLock.unlock(); return hit }
        cacheLock.unlock()
        var symbols = piece.utf8.map { byteTokens[Int($0)] }.filter { $0 >= 0 }
        while symbols.count > 1 {
            var best: (rank: Int32, index: Int, id: Int32)? = nil
            for i in 0..<(symbols.count - 1) {
                if let m = mergeOf[UInt64(UInt32(symbols[i])) << 32 | UInt64(UInt32(symbols[i + 1]))],
                   best == nil || m.rank < best!.rank {
                    best = (m.rank, i, m.id)
                }
            }
            guard let (_, index, id) = best else { break }
            symbols[index] = id
            symbols.remove(at: index + 1)
        }
        let result = symbols.map(Int.init)
        cacheLock.lock()
        if cache.count > 200_000 { cache.removeAll() }
        cache[piece] = result
        cacheLock.unlock()
        return result
    }
}

/// GPT-2's reversible byte → printable character map: printable Latin-1 bytes stand for
/// themselves, the other 68 bytes are shifted to U+0100 onwards (so a space is "Ġ", a newline "Ċ").
let byteToCharacter: [Unicode.Scalar] = {
    var printable = Set(Array(33...126) + Array(161...172) + Array(174...255))
    var result = [Unicode.Scalar](repeating: " ", count: 256)
    var next = 256
    for b in 0..<256 {
        if printable.contains(b) { result[b] = Unicode.Scalar(UInt32(b))! } else {
            result[b] = Unicode.Scalar(UInt32(next))!
            next += 1
        }
    }
    printable.removeAll()
    return result
}()

let characterToByte: [Unicode.Scalar: UInt8] = {
    var map: [Unicode.Scalar: UInt8] = [:]
    for (b, c) in byteToCharacter.enumerated() { map[c] = UInt8(b) }
    return map
}()
