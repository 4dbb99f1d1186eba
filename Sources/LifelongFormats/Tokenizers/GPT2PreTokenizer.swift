/// GPT-2's pre-tokenisation: the text is cut into pieces that BPE never merges across, following
/// the regular expression
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// tried alternative by alternative at each position, exactly as the regex engine does (including
/// the backtracking of `\s+(?!\S)`, which leaves the last space of a run for the next word).
/// With `isolateDigits`, every digit is first made a piece of its own (the `Digits` pre-tokenizer
/// with `individual_digits`), and the regex then runs within the pieces between digits.
public struct GPT2PreTokenizer: Sendable {
    public var isolateDigits: Bool

    public init(isolateDigits: Bool = false) { self.isolateDigits = isolateDigits }

    public func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var pieces: [String] = []
        if !isolateDigits {
            splitRegex(scalars[...], into: &pieces)
            return pieces
        }
        var start = 0
        for (i, c) in scalars.enumerated() where isNumber(c) {
            splitRegex(scalars[start..<i], into: &pieces)
            pieces.append(String(c))
            start = i + 1
        }
        splitRegex(scalars[start...], into: &pieces)
        return pieces
    }

    private func splitRegex(_ s: ArraySlice<Unicode.Scalar>, into pieces: inout [String]) {
        var i = s.startIndex
        let end = s.endIndex
        func emit(_ from: Int, _ to: Int) {
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: s[from..<to])
            pieces.append(String(piece))
        }
        func run(from j: Int, while test: (Unicode.Scalar) -> Bool) -> Int {
            var k = j
            while k < end && test(s[k]) { k += 1 }
            return k
        }
        while i < end {
            let c = s[i]
            // 's 't 're 've 'm 'll 'd
            if c == "'", i + 1 < end {
                let n = s[i + 1]
                if n == "s" || n == "t" || n == "m" || n == "d" { emit(i, i + 2); i += 2; continue }
                if i + 2 < end {
                    let pair = (n, s[i + 2])
                    if pair == ("r", "e") || pair == ("v", "e") || pair == ("l", "l") { emit(i, i + 3); i += 3; continue }
                }
            }
            // An optional single space, then a run of letters, of numbers, or of other symbols.
            let body = (c == " " && i + 1 < end) ? i + 1 : i
            if let test = [isLetter, isNumber, isOther].first(where: { $0(s[body]) }) {
                let stop = run(from: body, while: test)
                emit(i, stop); i = stop
                continue
            }
            // Whitespace. \s+(?!\S): the run, minus its last character when a non-space follows.
            let stop = run(from: i, while: isWhitespace)
            if stop == end || stop - i == 1 {
                emit(i, stop); i = stop      // to the end, or \s+ (a single space before a word)
            } else {
                emit(i, stop - 1); i = stop - 1
            }
        }
    }
}

@inline(__always) func isWhitespace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

@inline(__always) func isLetter(_ c: Unicode.Scalar) -> Bool {
    switch c.properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
    default: return false
    }
}

@inline(__always) func isNumber(_ c: Unicode.Scalar) -> Bool {
    switch c.properties.generalCategory {
    case .decimalNumber, .letterNumber, .otherNumber: return true
    default: return false
    }
}

@inline(__always) func isOther(_ c: Unicode.Scalar) -> Bool { !isWhitespace(c) && !isLetter(c) && !isNumber(c) }
