import LifelongFormats

/// RFC 4180 CSV: fields separated by `separator`, optionally quoted with `"` (a doubled quote
/// inside a quoted field is a quote; quoted fields may span lines). Errors name the line.
enum CSV {
    static func parse(_ text: String, separator: Character = ",", file: String) throws -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = ""
        var inQuotes = false, line = 1, fieldStarted = false
        var iterator = text.makeIterator()
        var pending: Character? = nil
        func next() -> Character? {
            if let p = pending { pending = nil; return p }
            return iterator.next()
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    let after = next()
                    if after == "\"" { field.append("\"") } else { inQuotes = false; pending = after }
                } else {
                    if c == "\n" || c == "\r\n" { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"" where !fieldStarted:
                inQuotes = true; fieldStarted = true
            case separator:
                row.append(field); field = ""; fieldStarted = false
            case "\n", "\r\n":
                row.append(field); rows.append(row); row = []; field = ""; fieldStarted = false; line += 1
            case "\r":
                continue
            default:
                field.append(c); fieldStarted = true
            }
        }
        if inQuotes { throw FormatError(file: "\(file):\(line)", "a quoted field is not closed before the end of the file") }
        if fieldStarted || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    /// Rows as dictionaries keyed by the header row; every row must have the header's width.
    static func records(_ text: String, separator: Character = ",", file: String, required: [String]) throws -> [[String: String]] {
        let rows = try parse(text, separator: separator, file: file).filter { !($0.count == 1 && $0[0].isEmpty) }
        guard let header = rows.first else { throw FormatError(file: file, "empty file") }
        for name in required where !header.contains(name) {
            throw FormatError(file: "\(file):1", "missing column '\(name)' (header: \(header.joined(separator: String(separator))))")
        }
        return try rows.dropFirst().enumerated().map { index, row in
            guard row.count == header.count else {
                throw FormatError(file: "\(file):\(index + 2)", "\(row.count) fields, the header has \(header.count)")
            }
            return Dictionary(uniqueKeysWithValues: zip(header, row))
        }
    }
}
