import Foundation

/// JSON exactly as RFC 8259 defines it, for every JSON file the project reads.
///
/// Foundation's parsers are lenient where a user's mistake should be caught: JSONSerialization
/// accepts a trailing comma (`{"answers": ["a"],}`) and both parsers take one of two duplicate
/// keys without a word. So every JSON text is first checked here — one value, no trailing commas,
/// no comments, no `NaN` / `Infinity`, no leading zeros, no control characters in strings, no
/// duplicate key in an object, at most `maximumDepth` nested arrays and objects — and the error
/// names the file, the line and the column. Only then is it handed to Foundation.
public enum StrictJSON {
    /// Arrays and objects nested deeper than this are refused (before a parser's recursion could
    /// exhaust the stack).
    public static let maximumDepth = 256

    /// Throws a `FormatError` naming `file` and the line (counted from `firstLine`, for one line of
    /// a JSONL file) and column of the first place where `data` is not one RFC 8259 JSON value.
    public static func validate(_ data: Data, file: String, firstLine: Int = 1) throws {
        let failure: (offset: Int, message: String)? = data.withUnsafeBytes { raw in
            var scanner = Scanner(bytes: raw.bindMemory(to: UInt8.self))
            do {
                scanner.skipSpace()
                try scanner.value(depth: 0)
                scanner.skipSpace()
                if scanner.position < scanner.bytes.count { throw Failure(scanner.position, "unexpected text after the JSON value") }
                return nil
            } catch let failure as Failure {
                return (failure.offset, failure.message)
            } catch {
                return (scanner.position, "\(error)")
            }
        }
        guard let failure else { return }
        let before = data.prefix(failure.offset)
        let line = firstLine + before.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        let column = before.count - (before.lastIndex(of: 0x0A).map { $0 - data.startIndex + 1 } ?? 0) + 1
        throw FormatError(file: file, "line \(line), column \(column): not valid JSON (RFC 8259): \(failure.message)")
    }

    /// The JSON value of `data` (Foundation's objects) after `validate`.
    public static func object(_ data: Data, file: String, firstLine: Int = 1) throws -> Any {
        try validate(data, file: file, firstLine: firstLine)
        do { return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw FormatError(file: file, "line \(firstLine): not valid JSON: \(error.localizedDescription)")
        }
    }

    /// `T` decoded from `data` after `validate`; a decoding error names the field's path.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String, firstLine: Int = 1) throws -> T {
        try validate(data, file: file, firstLine: firstLine)
        do { return try JSONDecoder().decode(type, from: data) } catch let error as DecodingError {
            throw FormatError(file: file, describe(error))
        }
    }

    /// A decoding error as "field 'a.b': …".
    public static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.isEmpty ? "the top level" : "field '" + keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[") + "'"
        }
        switch error {
        case let .typeMismatch(type, context): return "\(path(context.codingPath)) must be \(type): \(context.debugDescription)"
        case let .valueNotFound(_, context): return "\(path(context.codingPath)) is missing or null"
        case let .keyNotFound(key, context): return "\(path(context.codingPath + [key])) is missing"
        case let .dataCorrupted(context): return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    private struct Failure: Error {
        let offset: Int, message: String
        init(_ offset: Int, _ message: String) { self.offset = offset; self.message = message }
    }

    /// A recursive-descent check of the grammar over the bytes; builds nothing but each object's
    /// set of keys.
    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipSpace() {
            while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { position += 1 }
        }

        mutating func value(depth: Int) throws {
            guard let c = current else { throw Failure(position, "a value is missing (the text ends)") }
            switch c {
            case UInt8(ascii: "{"): try object(depth: depth + 1)
            case UInt8(ascii: "["): try array(depth: depth + 1)
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "/"): throw Failure(position, "comments are not JSON")
            case UInt8(ascii: "N"), UInt8(ascii: "I"): throw Failure(position, "NaN and Infinity are not JSON numbers")
            case UInt8(ascii: "]"), UInt8(ascii: "}"): throw Failure(position, "a trailing comma or a missing value before '\(Character(UnicodeScalar(c)))'")
            default: throw Failure(position, "unexpected character '\(Self.show(c))'")
            }
        }

        private mutating func object(depth: Int) throws {
            guard depth <= StrictJSON.maximumDepth else { throw Failure(position, "nested deeper than \(StrictJSON.maximumDepth) levels") }
            position += 1
            skipSpace()
            if current == UInt8(ascii: "}") { position += 1; return }
            var keys = Set<String>()
            while true {
                guard current == UInt8(ascii: "\"") else {
                    throw Failure(position, current == UInt8(ascii: "}") ? "a trailing comma before '}'" : "an object key must be a string in double quotes")
                }
                let keyStart = position
                let key = try string()
                guard keys.insert(key).inserted else { throw Failure(keyStart, "the key \"\(key)\" appears twice in one object") }
                skipSpace()
                guard current == UInt8(ascii: ":") else { throw Failure(position, "':' expected after the key \"\(key)\"") }
                position += 1
                skipSpace()
                try value(depth: depth)
                skipSpace()
                switch current {
                case UInt8(ascii: ","): position += 1; skipSpace()
                case UInt8(ascii: "}"): position += 1; return
                default: throw Failure(position, "',' or '}' expected")
                }
            }
        }

        private mutating func array(depth: Int) throws {
            guard depth <= StrictJSON.maximumDepth else { throw Failure(position, "nested deeper than \(StrictJSON.maximumDepth) levels") }
            position += 1
            skipSpace()
            if current == UInt8(ascii: "]") { position += 1; return }
            while true {
                if current == UInt8(ascii: "]") { throw Failure(position, "a trailing comma before ']'") }
                try value(depth: depth)
                skipSpace()
                switch current {
                case UInt8(ascii: ","): position += 1; skipSpace()
                case UInt8(ascii: "]"): position += 1; return
                default: throw Failure(position, "',' or ']' expected")
                }
            }
        }

        /// A string's text (escapes decoded only when there are any); UTF-8 is checked by the parser after.
        private mutating func string() throws -> String {
            let start = position
            position += 1
            var escaped = false
            while true {
                guard let c = current else { throw Failure(start, "a string is not closed") }
                if c == UInt8(ascii: "\"") { break }
                if c < 0x20 { throw Failure(position, "a control character (\(c)) inside a string must be escaped") }
                if c == UInt8(ascii: "\\") {
                    escaped = true
                    position += 1
                    guard let e = current else { throw Failure(start, "a string is not closed") }
                    if e == UInt8(ascii: "u") {
                        for k in 1...4 {
                            guard position + k < bytes.count, Self.isHexDigit(bytes[position + k]) else {
                                throw Failure(position, "\\u must be followed by four hexadecimal digits")
                            }
                        }
                        position += 4
                    } else if !"\"\\/bfnrt".utf8.contains(e) {
                        throw Failure(position - 1, "'\\\(Self.show(e))' is not a JSON escape")
                    }
                }
                position += 1
            }
            position += 1
            let body = UnsafeBufferPointer(rebasing: bytes[(start + 1)..<(position - 1)])
            guard escaped else { return String(decoding: body, as: UTF8.self) }
            let quoted = Data(UnsafeBufferPointer(rebasing: bytes[start..<position]))
            return (try? JSONSerialization.jsonObject(with: quoted, options: [.fragmentsAllowed])) as? String
                ?? String(decoding: body, as: UTF8.self)
        }

        private mutating func number() throws {
            let start = position
            if current == UInt8(ascii: "-") { position += 1 }
            guard let first = current, Self.isDigit(first) else {
                throw Failure(start, current == UInt8(ascii: "I") ? "NaN and Infinity are not JSON numbers" : "a digit must follow '-'")
            }
            position += 1
            if first == UInt8(ascii: "0"), let next = current, Self.isDigit(next) { throw Failure(start, "a number must not have a leading zero") }
            if first != UInt8(ascii: "0") { digits() }
            if current == UInt8(ascii: ".") {
                position += 1
                guard let d = current, Self.isDigit(d) else { throw Failure(position, "a digit must follow the decimal point") }
                digits()
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                guard let d = current, Self.isDigit(d) else { throw Failure(position, "a digit must follow the exponent") }
                digits()
            }
        }

        private mutating func digits() { while let c = current, Self.isDigit(c) { position += 1 } }

        private mutating func literal(_ word: StaticString) throws {
            let length = word.utf8CodeUnitCount
            guard position + length <= bytes.count,
                  memcmp(bytes.baseAddress! + position, word.utf8Start, length) == 0 else {
                throw Failure(position, "unexpected word (only true, false and null are JSON words)")
            }
            position += length
        }

        private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
        private static func isHexDigit(_ c: UInt8) -> Bool {
            isDigit(c) || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "f"))
        }
        private static func show(_ c: UInt8) -> String {
            c >= 0x20 && c < 0x7F ? String(UnicodeScalar(c)) : String(format: "\\x%02X", c)
        }
    }
}
