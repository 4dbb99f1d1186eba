/// The simplest tokenizer that can represent any text: one token per UTF-8 byte (ids 0–255), plus
/// end-of-text (256). Used by the demo and tests, which train tiny models from scratch.
public struct ByteTokenizer: Tokenizer {
    public let endOfText = 256
    public var vocabularySize: Int { 257 }
    public var endOfTextToken: Int? { endOfText }

    public init() {}

    public func encode(_ text: String) -> [Int] { text.utf8.map(Int.init) }

    /// Text of the byte tokens (special tokens are dropped; invalid UTF-8 is repaired).
    public func decode(_ ids: [Int]) -> String {
        String(decoding: ids.filter { $0 < 256 }.map(UInt8.init), as: UTF8.self)
    }
}
