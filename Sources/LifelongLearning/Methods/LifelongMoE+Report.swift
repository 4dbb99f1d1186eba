import Foundation

extension LifelongMoE {
    /// The model's growth per stage, and the router's load (task × expert) after the last stage
    /// (`method_statistics.mixture_of_experts`).
    public static func reportSections(_ r: StreamRunner.Results) -> [ReportSection] {
        guard case let .object(moe)? = r.methodStatistics?["mixture_of_experts"],
              case let .array(growthValues)? = moe["growth"], case let .array(loadValues)? = moe["loads"] else { return [] }
        let growth = growthValues.compactMap { if case let .object(o) = $0 { return o } else { return nil } }
        let loads = loadValues.compactMap { if case let .object(o) = $0 { return o } else { return nil } }
        func count(_ o: [String: JSONValue], _ key: String) -> String { o[key]?.count.map(ReportFormat.grouped) ?? "—" }
        var sections = [ReportSection(
            title: "Mixture of experts",
            text: "Growth (Lifelong-MoE): the model after each stage's growth. A token uses each mixture's router and its top-k experts, so its parameters and FLOPs stay constant but for the router rows.",
            header: ["stage", "experts per mixture", "mixture layers", "parameters", "added", "active per token", "forward FLOPs per token"],
            rows: growth.map { o in
                [ReportFormat.string(o["task"]) ?? "?", count(o, "experts_per_layer"), count(o, "mixture_layers"), count(o, "parameters"),
                 count(o, "parameters_added"), count(o, "active_parameters_per_token"), count(o, "forward_flops_per_token")]
            })]
        guard let last = loads.last, case let .array(tasks)? = last["tasks"], case let .array(share)? = last["share"] else { return sections }
        let names = tasks.compactMap(ReportFormat.string)
        let shares = share.map { row -> [Double] in
            if case let .array(cells) = row { return cells.compactMap(\.number) } else { return [] }
        }
        // Shares are fractions: a table with anything else is not the router's (not shown).
        guard shares.allSatisfy({ $0.allSatisfy { $0.isFinite && (0...1).contains($0) } }) else { return sections }
        let experts = shares.map(\.count).max() ?? 0
        sections.append(ReportSection(
            title: "Router load",
            text: "Router load after \(ReportFormat.string(last["after"]) ?? "the last stage"): the share (%) of each task's test tokens' expert choices that went to each expert, over all mixture layers.",
            header: ["task ↓ / expert →"] + (0..<experts).map { "\($0)" },
            rows: zip(names, shares).map { name, row in [name] + row.map { String(format: "%.1f", 100 * $0) } },
            heatmap: shares.allSatisfy { $0.count == experts }
                ? .init(values: shares, caption: "The router's load, task × expert, with its colour bar.", scale: 100, unit: "%") : nil))
        return sections
    }
}
