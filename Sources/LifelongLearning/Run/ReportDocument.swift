import Foundation

/// What a report says, as blocks that both `report.md` and `report.html` are rendered from, so
/// that the two cannot disagree. Figures are SVG: the HTML shows them, the Markdown names them.
package struct ReportDocument {
    public struct Table: Equatable {
        public var header: [String]
        public var rows: [[String]]
        /// Cells shown in bold (row, column): the best mean of a column.
        public var bold: Set<[Int]> = []
    }

    public enum Block: Equatable {
        case heading(level: Int, String)
        case paragraph(String)
        case table(Table)
        case list([String])
        /// Preformatted text (a run's config).
        case code(String)
        /// An inline SVG figure and what it shows.
        case figure(svg: String, caption: String)
    }

    public var title: String
    public var blocks: [Block] = []

    mutating func add(_ block: Block) { blocks.append(block) }

    /// The tables under the heading `heading` (up to the next heading of the same or a higher level).
    public func tables(under heading: String) -> [Table] {
        guard let start = blocks.firstIndex(where: { if case .heading(_, heading) = $0 { return true } else { return false } }),
              case let .heading(level, _) = blocks[start] else { return [] }
        var result: [Table] = []
        for block in blocks[(start + 1)...] {
            if case let .heading(other, _) = block, other <= level { break }
            if case let .table(table) = block { result.append(table) }
        }
        return result
    }

    // MARK: Markdown

    public func markdown() -> String {
        var md = "# \(title)\n"
        for block in blocks {
            switch block {
            case let .heading(level, text): md += "\n" + String(repeating: "#", count: level) + " \(text)\n"
            case let .paragraph(text): md += "\n\(text)\n"
            case let .table(table): md += "\n" + Self.markdownTable(table)
            case let .list(items): md += "\n" + items.map { "- \($0)\n" }.joined()
            case let .code(text): md += "\n```\n\(text.hasSuffix("\n") ? text : text + "\n")```\n"
            case let .figure(_, caption): md += "\n*Figure (in report.html): \(caption)*\n"
            }
        }
        return md
    }

    static func markdownTable(_ table: Table) -> String {
        func cell(_ text: String, _ row: Int, _ column: Int) -> String {
            let clean = markdownCell(text)
            return table.bold.contains([row, column]) ? "**\(clean)**" : clean
        }
        return "| " + table.header.map(markdownCell).joined(separator: " | ") + " |\n|" + table.header.map { _ in "---|" }.joined() + "\n"
            + table.rows.enumerated().map { r, row in "| " + row.enumerated().map { cell($1, r, $0) }.joined(separator: " | ") + " |\n" }.joined()
    }

    /// A cell's text on one line: control characters (from generated text) shown as �, pipes escaped.
    static func markdownCell(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 ? "\u{FFFD}" : $0 }))
            .replacingOccurrences(of: "|", with: "\\|")
    }

    // MARK: HTML

    public func html() -> String {
        var page = """
        <!doctype html><html><head><meta charset='utf-8'><title>\(Self.escape(title))</title><style>
        body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}
        td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}h2{margin-top:2em}code,pre{background:#f3f3f3}
        figure{margin:1em 0}figcaption{font-size:small;color:#555}pre{padding:.5em;overflow-x:auto}
        </style></head><body><h1>\(Self.escape(title))</h1>
        """
        for block in blocks {
            switch block {
            case let .heading(level, text): page += "<h\(level)>\(Self.escape(text))</h\(level)>"
            case let .paragraph(text): page += "<p>\(Self.escape(text))</p>"
            case let .table(table): page += Self.htmlTable(table)
            case let .list(items): page += "<ul>" + items.map { "<li><code>\(Self.escape($0))</code></li>" }.joined() + "</ul>"
            case let .code(text): page += "<pre>\(Self.escape(text))</pre>"
            case let .figure(svg, caption): page += "<figure>\(svg)<figcaption>\(Self.escape(caption))</figcaption></figure>"
            }
        }
        return page + "</body></html>\n"
    }

    static func htmlTable(_ table: Table) -> String {
        "<table><tr>" + table.header.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
            + table.rows.enumerated().map { r, row in
                "<tr>" + row.enumerated().map { c, text in
                    table.bold.contains([r, c]) ? "<td><b>\(escape(text))</b></td>" : "<td>\(escape(text))</td>"
                }.joined() + "</tr>"
            }.joined() + "</table>"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
