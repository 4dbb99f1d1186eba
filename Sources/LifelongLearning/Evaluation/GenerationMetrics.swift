import Foundation

/// Scores of generated text against one or more references: ROUGE-L and BLEU, on tokens that are
/// lower-cased words and single punctuation marks.
package enum GenerationMetrics {
    /// "The cat, sat." → ["the", "cat", ",", "sat", "."].
    public static func tokens(_ text: String) -> [String] {
        var result: [String] = [], word = ""
        for c in text.lowercased() {
            if c.isLetter || c.isNumber {
                word.append(c)
            } else {
                if !word.isEmpty { result.append(word); word = "" }
                if !c.isWhitespace { result.append(String(c)) }
            }
        }
        if !word.isEmpty { result.append(word) }
        return result
    }

    /// Length of the longest common subsequence.
    static func longestCommonSubsequence(_ a: [String], _ b: [String]) -> Int {
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        var previous = [Int](repeating: 0, count: b.count + 1), current = previous
        for x in a {
            for (j, y) in b.enumerated() {
                current[j + 1] = x == y ? previous[j] + 1 : max(previous[j + 1], current[j])
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// ROUGE-L F1 (Lin 2004, β = 1) of one prediction: LCS-based precision and recall, the best
    /// over the references. 0–1.
    public static func rougeL(_ prediction: String, _ references: [String]) -> Double {
        let p = tokens(prediction)
        return references.map { reference in
            let r = tokens(reference)
            let lcs = Double(longestCommonSubsequence(p, r))
            guard lcs > 0 else { return 0 }
            let precision = lcs / Double(p.count), recall = lcs / Double(r.count)
            return 2 * precision * recall / (precision + recall)
        }.max() ?? 0
    }

    /// Corpus BLEU-4 (Papineni et al. 2002): n-gram precisions clipped by the most counts of any
    /// reference, summed over the corpus, geometric mean over n = 1…4, times the brevity penalty
    /// exp(1 − r/c) when the corpus is shorter than its closest-length references. 0–100.
    public static func bleu(_ predictions: [String], _ references: [[String]], maxOrder: Int = 4) -> Double {
        var matches = [Int](repeating: 0, count: maxOrder), totals = [Int](repeating: 0, count: maxOrder)
        var predictionLength = 0, referenceLength = 0
        for (prediction, refs) in zip(predictions, references) {
            let p = tokens(prediction), rs = refs.map(tokens)
            predictionLength += p.count
            // The reference whose length is closest (the shorter one on ties).
            referenceLength += rs.map(\.count).min { (abs($0 - p.count), $0) < (abs($1 - p.count), $1) } ?? 0
            for n in 1...maxOrder {
                let counts = ngrams(p, n)
                var maxReference: [ArraySlice<String>: Int] = [:]
                for r in rs { maxReference.merge(ngrams(r, n)) { max($0, $1) } }
                matches[n - 1] += counts.reduce(0) { $0 + min($1.value, maxReference[$1.key] ?? 0) }
                totals[n - 1] += max(0, p.count - n + 1)
            }
        }
        guard predictionLength > 0, matches.allSatisfy({ $0 > 0 }) else { return 0 }
        let logPrecision = zip(matches, totals).map { log(Double($0) / Double($1)) }.reduce(0, +) / Double(maxOrder)
        let brevity = predictionLength < referenceLength ? exp(1 - Double(referenceLength) / Double(predictionLength)) : 1
        return 100 * brevity * exp(logPrecision)
    }

    private static func ngrams(_ tokens: [String], _ n: Int) -> [ArraySlice<String>: Int] {
        var counts: [ArraySlice<String>: Int] = [:]
        if tokens.count >= n { for i in 0...(tokens.count - n) { counts[tokens[i..<(i + n)], default: 0] += 1 } }
        return counts
    }
}
