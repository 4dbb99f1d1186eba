import LifelongFormats

/// A tokenizer plus the special tokens of lifelong learning (`__ans__`, `__gen__`, one `__task__`
/// token per task), which get ids after the base vocabulary. When a token is added the model must
/// grow by the same number of rows (`DecoderLM.addTokens`).
///
/// EOS is the base vocabulary's end-of-text token when it has one, as in the official LAMOL code
/// (GPT-2's `<|endoftext|>`): a pretrained model already knows how to end with it, whereas a
/// fresh `__eos__` row must be learnt from scratch.
public final class TaskTokenizer {
    public let base: any Tokenizer
    public private(set) var specialNames: [String] = []
    private var specialIds: [String: Int] = [:]
    private let baseEndOfText: Int?
    /// A base-vocabulary token marking answers instead of `__ans__` (see `useBaseAnswerToken`).
    private var baseAnswer: Int?

    public init(base: any Tokenizer, useBaseEndOfText: Bool = true) {
        self.base = base
        baseEndOfText = useBaseEndOfText ? base.endOfTextToken : nil
    }

    public var vocabularySize: Int { base.vocabularySize + specialNames.count }

    /// The id of special token `name`, added if new.
    @discardableResult
    public func special(_ name: String) -> Int {
        if let id = specialIds[name] { return id }
        let id = base.vocabularySize + specialNames.count
        specialNames.append(name); specialIds[name] = id
        return id
    }

    public func specialId(_ name: String) -> Int? { specialIds[name] }

    // The four functions below return a special token's id and add the token when it is new: the
    // order of their first calls fixes the ids, so they are functions, not properties.

    /// The token that separates a question from its answer: `__ans__`, or the base token of
    /// `useBaseAnswerToken`.
    @discardableResult
    public func answerToken() -> Int { baseAnswer ?? special("__ans__") }

    /// Marks answers with `text`'s one base-vocabulary token instead of a new `__ans__` row, for
    /// a method that cannot train vocabulary rows (SLM). Throws when `text` is not one token.
    public func useBaseAnswerToken(_ text: String, field: String) throws {
        let ids = base.encode(text)
        guard ids.count == 1 else {
            throw FormatError(file: field, "'\(text)' is \(ids.count) tokens for this tokenizer \(ids); the answer separator must be one token")
        }
        baseAnswer = ids[0]
    }
    /// The token that ends an example: the base vocabulary's end-of-text token, or `__eos__`.
    @discardableResult
    public func endOfExampleToken() -> Int { baseEndOfText ?? special("__eos__") }
    /// LAMOL^GEN's prompt for pseudo-samples of any task.
    public func genericToken() -> Int { special("__gen__") }
    /// LAMOL^TASK's prompt for pseudo-samples of one task.
    public func taskToken(_ task: String) -> Int { special("__\(task)__") }

    public func encode(_ text: String) -> [Int] { base.encode(text) }

    /// Like `encode`, but the names of special tokens in the text (`__ans__`, `__sst__`, …)
    /// become their ids — for prompts typed by hand.
    public func encodeWithSpecialNames(_ text: String) -> [Int] {
        var ids: [Int] = [], rest = Substring(text)
        while !rest.isEmpty {
            let next = specialNames.compactMap { name in rest.range(of: name).map { (name, $0) } }.min { $0.1.lowerBound < $1.1.lowerBound }
            guard let (name, range) = next else { ids += base.encode(String(rest)); break }
            if range.lowerBound > rest.startIndex { ids += base.encode(String(rest[..<range.lowerBound])) }
            ids.append(specialIds[name]!)
            rest = rest[range.upperBound...]
        }
        return ids
    }

    /// Text of ids; special tokens are written as their names. A base end-of-text token is
    /// dropped unless `showingEndOfText`, which writes it as `<eos>`.
    public func decode(_ ids: [Int], showingEndOfText: Bool = false) -> String {
        var text = "", pending: [Int] = []
        func flush() { text += base.decode(pending); pending.removeAll() }
        for id in ids {
            if id == baseEndOfText {
                if showingEndOfText { flush(); text += "<eos>" }
            } else if id >= base.vocabularySize, id - base.vocabularySize < specialNames.count {
                flush(); text += specialNames[id - base.vocabularySize]
            } else {
                pending.append(id)
            }
        }
        flush()
        return text
    }
}
