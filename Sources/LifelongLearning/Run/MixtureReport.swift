import Foundation

/// The report's view of a Lifelong-MoE run (`method_statistics.mixture_of_experts`): the model's
/// growth per stage, and the router's load (task × expert) after the last stage.
struct MixtureReport {
    let growth: [[String: JSONValue]]
    let loads: [[String: JSONValue]]

    init?(_ r: StreamRunner.Results) {
        guard case let .object(moe)? = r.methodStatistics?["mixture_of_experts"],
              case let .array(growth)? = moe["growth"], case let .array(loads)? = moe["loads"] else { return nil }
        self.growth = growth.compactMap { if case let .object(o) = $0 { return o } else { return nil } }
        self.loads = loads.compactMap { if case let .object(o) = $0 { return o } else { return nil } }
    }

    static let growthTitle = "Growth (Lifelong-MoE): the model after each stage's growth. A token uses each mixture's router and its top-k experts, so its parameters and FLOPs stay constant but for the router rows."
    static let growthHeader = ["stage", "experts per mixture", "mixture layers", "parameters", "added", "active per token", "forward FLOPs per token"]

    var growthRows: [[String]] {
        func count(_ o: [String: JSONValue], _ key: String) -> String { o[key]?.count.map(Self.grouped) ?? "—" }
        return growth.map { o in
            [Self.string(o["task"]) ?? "?", count(o, "experts_per_layer"), count(o, "mixture_layers"), count(o, "parameters"),
             count(o, "parameters_added"), count(o, "active_parameters_per_token"), count(o, "forward_flops_per_token")]
        }
    }

    var loadTitle: String {
        "Router load after \(Self.string(loads.last?["after"]) ?? "the last stage"): the share (%) of each task's test tokens' expert choices that went to each expert, over all mixture layers."
    }

    /// The last stage's load: one row per task, one column per expert, in percent.
    var finalLoad: (header: [String], rows: [[String]], shares: [[Double]])? {
        guard let last = loads.last, case let .array(tasks)? = last["tasks"], case let .array(share)? = last["share"] else { return nil }
        let names = tasks.compactMap(Self.string)
        let shares = share.map { row -> [Double] in
            if case let .array(cells) = row { return cells.compactMap(\.number) } else { return [] }
        }
        // Shares are fractions: a table with anything else is not the router's (not drawn).
        guard shares.allSatisfy({ $0.allSatisfy { $0.isFinite && (0...1).contains($0) } }) else { return nil }
        let experts = shares.map(\.count).max() ?? 0
        let rows = zip(names, shares).map { name, row in [name] + row.map { String(format: "%.1f", 100 * $0) } }
        return (["task ↓ / expert →"] + (0..<experts).map { "\($0)" }, rows, shares)
    }

    /// The load as coloured cells (white 0 % → orange at the largest share), with a colour bar.
    func loadHeatmap(_ load: (header: [String], rows: [[String]], shares: [[Double]])) -> String {
        let cell = 40, left = 130, top = 30
        let experts = load.header.count - 1, peak = max(1e-9, load.shares.flatMap { $0 }.max() ?? 1)
        let width = left + cell * experts + 90, height = top + cell * load.rows.count + 40
        var svg = "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' font-family='sans-serif' font-size='11'>"
        func colour(_ t: Double) -> String { "rgb(255,\(Int(255 - 130 * t)),\(Int(255 - 235 * t)))" }
        for e in 0..<experts { svg += "<text x='\(left + e * cell + cell / 2)' y='\(top - 8)' text-anchor='middle'>\(e)</text>" }
        svg += "<text x='\(left + experts * cell / 2)' y='12' text-anchor='middle'>expert</text>"
        for (i, row) in load.shares.enumerated() {
            svg += "<text x='\(left - 6)' y='\(top + i * cell + cell / 2 + 4)' text-anchor='end'>\(ReportDocument.escape(load.rows[i][0]))</text>"
            for (e, v) in row.enumerated() {
                svg += "<rect x='\(left + e * cell)' y='\(top + i * cell)' width='\(cell - 2)' height='\(cell - 2)' fill='\(colour(v / peak))'/>"
                svg += "<text x='\(left + e * cell + cell / 2 - 1)' y='\(top + i * cell + cell / 2 + 4)' text-anchor='middle'>\(Int((100 * v).rounded()))</text>"
            }
        }
        let barX = left + experts * cell + 20, barH = cell * load.rows.count
        for k in 0..<10 {
            svg += "<rect x='\(barX)' y='\(top + barH - (k + 1) * barH / 10)' width='14' height='\(barH / 10 + 1)' fill='\(colour(Double(k) / 9))'/>"
        }
        svg += "<text x='\(barX + 18)' y='\(top + 10)'>\(Int((100 * peak).rounded())) %</text><text x='\(barX + 18)' y='\(top + barH)'>0 %</text>"
        return svg + "</svg>"
    }

    static func string(_ value: JSONValue?) -> String? {
        if case let .string(s)? = value { return s }
        return nil
    }

    static func grouped(_ n: Int) -> String {
        let digits = String(n)
        return digits.enumerated().map { i, c in (i > 0 && (digits.count - i) % 3 == 0 ? "," : "") + String(c) }.joined()
    }
}
