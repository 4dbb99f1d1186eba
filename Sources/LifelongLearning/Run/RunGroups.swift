import Foundation
import LifelongFormats
import Yams

/// Runs grouped by everything but their seed, task order (and name): the unit of a result,
/// reported as mean ± sample standard deviation over its runs. Built once and rendered by the Markdown, the
/// HTML, the CSV and the LaTeX writers alike.
package struct RunGroups {
    public struct Summary: Equatable {
        public let mean: Double, sd: Double?, n: Int
        /// Mean and sample standard deviation (n − 1 in the denominator; nil for a single value).
        public init?(_ values: [Double]) {
            guard !values.isEmpty else { return nil }
            n = values.count
            mean = values.reduce(0, +) / Double(n)
            let m = mean
            sd = n > 1 ? (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot() : nil
        }
    }

    public struct Group {
        /// The method, plus the config keys that tell it from other groups of the same method.
        public let label: String
        public let runs: [Report.Run]
        public var seeds: [UInt64] { runs.map(\.results.seed) }
        public var isMultitask: Bool { runs.first?.results.isUnionRun ?? false }

        public func summary(_ metric: Metric) -> Summary? { Summary(runs.compactMap { metric.value($0.results) }) }

        /// After stage i, the mean score over the tasks seen so far (R[i][0…i]), summarised over the
        /// group's runs; empty for a single-stage (multitask) group.
        public var averageSeenSoFar: [Summary] {
            let sequential = self.sequential
            guard let stages = sequential.map(\.matrix.count).min(), stages > 0 else { return [] }
            return (0..<stages).compactMap { i in
                Summary(sequential.map { r in r.matrix[i][0...i].reduce(0, +) / Double(i + 1) })
            }
        }

        /// Each task's score after every stage from the stage that trains it on, summarised over
        /// the group's runs. Tasks are matched by name and stages by position: when the runs learnt
        /// the tasks in different orders, a task's point after stage i covers the runs that had
        /// learnt it by then (its n says how many). Empty for a single-stage (multitask) group.
        public var taskCurves: [(task: String, points: [Summary?])] {
            let sequential = self.sequential
            guard let stages = sequential.map(\.matrix.count).min(), stages > 1 else { return [] }
            var tasks: [String] = []
            for r in sequential { for task in r.tasks where !tasks.contains(task) { tasks.append(task) } }
            return tasks.map { task in
                (task, (0..<stages).map { i in
                    Summary(sequential.compactMap { r in r.tasks.firstIndex(of: task).flatMap { j in j <= i ? r.matrix[i][j] : nil } })
                })
            }
        }

        /// The task order every run of the group followed, or nil when their orders differ.
        public var sharedOrder: [String]? {
            let orders = Set(sequential.map(\.tasks))
            return orders.count == 1 ? orders.first : nil
        }

        /// The runs that learnt their tasks one stage each (not multitask), complete.
        private var sequential: [StreamRunner.Results] {
            runs.map(\.results).filter { $0.matrix.count == $0.tasks.count && !$0.tasks.isEmpty }
        }
    }

    /// A continual-learning metric of one run, recomputed from its R (so report and formulas agree).
    public enum Metric: String, CaseIterable {
        case acc = "ACC", bwt = "BWT", fwt = "FWT", forgetting, learningAccuracy = "learning acc."

        /// Larger is better, except for forgetting; on NLL matrices (`lowerIsBetter`) smaller is
        /// better for every metric (see `ContinualMetrics` for their signs there).
        func higherIsBetter(lowerIsBetter: Bool) -> Bool {
            !lowerIsBetter && self != .forgetting
        }

        public func value(_ r: StreamRunner.Results) -> Double? {
            let m = ContinualMetrics(results: r)
            switch self {
            case .acc: return m?.acc ?? (r.matrix.isEmpty ? nil : r.finalAverage)
            case .bwt: return m?.bwt
            case .fwt: return m?.fwt
            case .forgetting: return m?.forgetting
            case .learningAccuracy: return m?.learningAcc
            }
        }
    }

    public let groups: [Group]

    public init(_ runs: [Report.Run]) {
        let keyed = runs.map { ($0, Self.settings(of: $0)) }
        var order: [String] = [], members: [String: [Report.Run]] = [:], settings: [String: [String: String]] = [:]
        for (run, s) in keyed {
            let key = s.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
            if members[key] == nil { order.append(key); settings[key] = s }
            members[key, default: []].append(run)
        }
        // A key tells a group from the other groups of its method when they do not all give it one
        // value (absent counts as a value). Counted once per method and key: linear in the groups.
        var valuesByMethod: [String: [String: Set<String>]] = [:], having: [String: [String: Int]] = [:], groupCount: [String: Int] = [:]
        for key in order {
            let method = members[key]![0].results.method
            groupCount[method, default: 0] += 1
            for (k, v) in settings[key]! {
                valuesByMethod[method, default: [:]][k, default: []].insert(v)
                having[method, default: [:]][k, default: 0] += 1
            }
        }
        groups = order.map { key in
            let runs = members[key]!, method = runs[0].results.method, mine = settings[key]!
            let distinct = mine.keys.sorted().filter { k in
                // Two values among the method's groups, or some of them without the key.
                k != "method.name" && ((valuesByMethod[method]?[k]?.count ?? 0) > 1 || (having[method]?[k] ?? 0) < (groupCount[method] ?? 0))
            }
            return Group(label: ([method] + distinct.map { "\($0)=\(mine[$0] ?? "—")" }).joined(separator: " "), runs: runs)
        }
        let all = groups
        bestMeans = Dictionary(uniqueKeysWithValues: Metric.allCases.map { ($0, Self.best($0, of: all)) })
        distinctMeans = Dictionary(uniqueKeysWithValues: Metric.allCases.map { metric in
            (metric, Set(all.filter { !$0.isMultitask }.compactMap { $0.summary(metric)?.mean }).count)
        })
    }

    /// The best mean of each metric over the groups (multitask left out), computed once.
    private let bestMeans: [Metric: Double?]
    /// How many different means each metric has over those groups (a best is marked only among several).
    private let distinctMeans: [Metric: Int]

    /// A run's resolved settings from its `config.yaml`, flattened to dotted keys, without its
    /// name and seed; from `results.json` alone (method, model, tasks) when it has no config.
    static func settings(of run: Report.Run) -> [String: String] {
        let path = (run.directory as NSString).appendingPathComponent("config.yaml")
        if let text = try? UserFile.text(path), let tree = try? YAMLText.load(text, source: path) {  // bounded: no alias bombs
            var flat = flattenYAML(tree)
            flat["name"] = nil; flat["seed"] = nil
            // The same tasks in another order are the same setting (results are averaged over orders).
            if let stream = (tree as? [String: Any])?["stream"] as? [Any] { flat["stream"] = stream.map { "\($0)" }.sorted().joined(separator: ", ") }
            return flat
        }
        let r = run.results
        return ["method.name": r.method, "model": r.model, "stream": r.tasks.joined(separator: ", ")]
    }

    var multitaskACC: Double? { groups.first(where: \.isMultitask)?.summary(.acc)?.mean }

    /// The best mean of `metric` over the groups (multitask, the upper bound, left out).
    func best(_ metric: Metric) -> Double? { bestMeans[metric] ?? nil }

    private static func best(_ metric: Metric, of groups: [Group]) -> Double? {
        let means = groups.filter { !$0.isMultitask }.compactMap { $0.summary(metric)?.mean }
        let lower = groups.first?.runs.first?.results.lowerIsBetter ?? false
        return metric.higherIsBetter(lowerIsBetter: lower) ? means.max() : means.min()
    }

    // MARK: Exports

    /// One line per run: its group, seed, metrics and R (rows joined by `;`, columns by a space).
    public func csv() -> String {
        var lines = [(["group", "run", "seed", "tasks"] + Metric.allCases.map(\.rawValue) + ["R"]).map(csvField).joined(separator: ",")]
        for group in groups {
            for run in group.runs {
                let r = run.results
                let metrics = Metric.allCases.map { $0.value(r).map { String($0) } ?? "" }
                let matrix = r.matrix.map { $0.map { String($0) }.joined(separator: " ") }.joined(separator: ";")
                lines.append(([group.label, (run.directory as NSString).lastPathComponent, "\(r.seed)", r.tasks.joined(separator: " ")]
                              + metrics + [matrix]).map(csvField).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The group means ± sd as a booktabs table.
    public func latex() -> String {
        let metrics = Metric.allCases
        var tex = "\\begin{tabular}{l r " + metrics.map { _ in "r" }.joined(separator: " ") + "}\n\\toprule\n"
        tex += (["Method", "$n$"] + metrics.map { $0.rawValue.replacingOccurrences(of: "learning acc.", with: "LA") }).joined(separator: " & ") + " \\\\\n\\midrule\n"
        for group in groups {
            let cells = metrics.map { metric -> String in
                guard let s = group.summary(metric) else { return "--" }
                let text = s.sd.map { String(format: "%.1f $\\pm$ %.1f", s.mean, $0) } ?? String(format: "%.1f", s.mean)
                return isBest(s, metric, group) ? "\\textbf{\(text)}" : text
            }
            tex += ([latexEscape(group.label), "\(group.runs.count)"] + cells).joined(separator: " & ") + " \\\\\n"
        }
        return tex + "\\bottomrule\n\\end{tabular}\n"
    }

    /// The best mean of a column, when the column has more than one distinct mean.
    func isBest(_ s: Summary, _ metric: Metric, _ group: Group) -> Bool {
        !group.isMultitask && (distinctMeans[metric] ?? 0) > 1 && best(metric) == s.mean
    }
}

private func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// Text for LaTeX: its ten special characters written as commands or escaped.
func latexEscape(_ s: String) -> String {
    var out = ""
    for c in s {
        switch c {
        case "_", "%", "&", "#", "$", "{", "}": out += "\\\(c)"
        case "\\": out += "\\textbackslash{}"
        case "^": out += "\\textasciicircum{}"
        case "~": out += "\\textasciitilde{}"
        default: out.append(c)
        }
    }
    return out
}

/// Dotted paths of a YAML tree's leaves, with their values as text.
func flattenYAML(_ node: Any?, prefix: String = "") -> [String: String] {
    switch node {
    case let map as [String: Any]:
        return map.reduce(into: [:]) { result, entry in
            result.merge(flattenYAML(entry.value, prefix: prefix.isEmpty ? entry.key : "\(prefix).\(entry.key)")) { a, _ in a }
        }
    case let list as [Any]:
        return [prefix: list.map { "\($0)" }.joined(separator: ", ")]
    case nil:
        return [prefix: "null"]
    case let value?:
        return [prefix: "\(value)"]
    }
}
