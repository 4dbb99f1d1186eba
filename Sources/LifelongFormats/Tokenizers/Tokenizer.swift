/// Text ↔ token ids.
public protocol Tokenizer: Sendable {
    var vocabularySize: Int { get }
    /// Token ids of `text`, with no special tokens added (special tokens written in the text are
    /// recognised).
    func encode(_ text: String) -> [Int]
    /// The text of `ids` (special tokens included as written).
    func decode(_ ids: [Int]) -> String
}
