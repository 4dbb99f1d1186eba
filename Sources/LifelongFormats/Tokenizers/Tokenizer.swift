/// Text ↔ token ids.
public protocol Tokenizer: Sendable {
    var vocabularySize: Int { get }
    /// Token ids of `text`, with no special tokens added (special tokens written in the text are
    /// recognised).
    func encode(_ text: String) -> [Int]
    /// The text of `ids` (special tokens included as written).
    func decode(_ ids: [Int]) -> String
    /// The token that ends a text, if the vocabulary has one.
    var endOfTextToken: Int? { get }
}

extension Tokenizer {
    public var endOfTextToken: Int? { nil }
}
