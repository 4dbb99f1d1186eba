import Foundation

/// A table a method adds to the report about what it did (L2KD's teachers, SLM's retrieval,
/// Lifelong-MoE's growth and router load): written into `results.json` (`report_sections`) and
/// rendered by the report, which knows no method.
public struct ReportSection: Codable, Sendable, Equatable {
    public var title: String
    /// What the table shows, before it.
    public var text: String
    public var header: [String]
    public var rows: [[String]]
    /// The table's numbers as a heatmap: one row per table row (labelled by its first cell), one
    /// column per header cell after the first; values ≥ 0, drawn white (0) to orange (the largest).
    public var heatmap: Heatmap?

    public struct Heatmap: Codable, Sendable, Equatable {
        public var values: [[Double]]
        public var caption: String
        /// Each value is shown times `scale` with `unit` (100 and "%" for shares).
        public var scale: Double
        public var unit: String
        public init(values: [[Double]], caption: String, scale: Double = 1, unit: String = "") {
            self.values = values; self.caption = caption; self.scale = scale; self.unit = unit
        }
    }

    public init(title: String, text: String, header: [String], rows: [[String]], heatmap: Heatmap? = nil) {
        self.title = title; self.text = text; self.header = header; self.rows = rows; self.heatmap = heatmap
    }

    /// The section in the report: a heading, the text, the table and its heatmap.
    func add(to doc: inout ReportDocument) {
        doc.add(.heading(level: 3, title))
        doc.add(.paragraph(text))
        doc.add(.table(.init(header: header, rows: rows)))
        if let heatmap, heatmap.values.count == rows.count,
           heatmap.values.allSatisfy({ $0.count == header.count - 1 && $0.allSatisfy { $0.isFinite && $0 >= 0 } }) {
            doc.add(.figure(svg: svg(heatmap), caption: heatmap.caption))
        }
    }

    /// The heatmap as coloured cells (white 0 → orange at the largest value), with a colour bar.
    private func svg(_ heatmap: Heatmap) -> String {
        let cell = 40, left = 130, top = 30, columns = header.count - 1
        let peak = max(1e-9, heatmap.values.flatMap { $0 }.max() ?? 1)
        let width = left + cell * columns + 90, height = top + cell * rows.count + 40
        var svg = "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' font-family='sans-serif' font-size='11'>"
        func colour(_ t: Double) -> String { "rgb(255,\(Int(255 - 130 * t)),\(Int(255 - 235 * t)))" }
        func shown(_ v: Double) -> String { "\(Int((heatmap.scale * v).rounded()))" }
        for c in 0..<columns {
            svg += "<text x='\(left + c * cell + cell / 2)' y='\(top - 8)' text-anchor='middle'>\(ReportDocument.escape(header[c + 1]))</text>"
        }
        for (i, row) in heatmap.values.enumerated() {
            svg += "<text x='\(left - 6)' y='\(top + i * cell + cell / 2 + 4)' text-anchor='end'>\(ReportDocument.escape(rows[i].first ?? ""))</text>"
            for (c, v) in row.enumerated() {
                svg += "<rect x='\(left + c * cell)' y='\(top + i * cell)' width='\(cell - 2)' height='\(cell - 2)' fill='\(colour(v / peak))'/>"
                svg += "<text x='\(left + c * cell + cell / 2 - 1)' y='\(top + i * cell + cell / 2 + 4)' text-anchor='middle'>\(shown(v))</text>"
            }
        }
        let barX = left + columns * cell + 20, barH = cell * rows.count
        for k in 0..<10 {
            svg += "<rect x='\(barX)' y='\(top + barH - (k + 1) * barH / 10)' width='14' height='\(barH / 10 + 1)' fill='\(colour(Double(k) / 9))'/>"
        }
        svg += "<text x='\(barX + 18)' y='\(top + 10)'>\(shown(peak)) \(heatmap.unit)</text><text x='\(barX + 18)' y='\(top + barH)'>0 \(heatmap.unit)</text>"
        return svg + "</svg>"
    }
}

/// Formatting shared by the report and the methods' sections.
enum ReportFormat {
    /// A score with one decimal, "—" when there is none or it is not a sane number.
    static func score(_ v: Double?) -> String {
        v.flatMap(sane).map { String(format: "%.1f", $0) } ?? "—"
    }

    static func sane(_ v: Double) -> Double? { v.isFinite && abs(v) <= StreamRunner.Results.largestValue ? v : nil }

    /// 1234567 as "1,234,567".
    static func grouped(_ n: Int) -> String {
        let digits = String(n)
        return digits.enumerated().map { i, c in (i > 0 && (digits.count - i) % 3 == 0 ? "," : "") + String(c) }.joined()
    }

    static func string(_ value: JSONValue?) -> String? {
        if case let .string(s)? = value { return s }
        return nil
    }
}
