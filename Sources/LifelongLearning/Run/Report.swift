import Foundation
import LifelongFormats

/// `report.md` and a self-contained `report.html` (inline SVG, no scripts) for one or more runs:
/// each run's score matrix as a heatmap, per-task score curves along the stream, a comparison
/// of the methods, pseudo-sample statistics, and the definitions of every metric.
public struct Report {
    public struct Run {
        public let directory: String
        public let results: StreamRunner.Results
    }

    public let runs: [Run]
    /// The runs grouped by everything but seed: means ± sd.
    public var groups: RunGroups { RunGroups(runs) }

    public init(runDirectories: [String]) throws {
        runs = try runDirectories.map { directory in
            let path = (directory as NSString).appendingPathComponent("results.json")
            guard let data = FileManager.default.contents(atPath: path) else { throw FormatError(file: path, "missing: is this a run directory?") }
            do { return Run(directory: directory, results: try JSONDecoder().decode(StreamRunner.Results.self, from: data)) } catch {
                throw FormatError(file: path, "not a results file of this version: \(error)")
            }
        }
    }

    /// ACC of the multitask run among the reports, if any: the reference for the gap.
    var multitaskACC: Double? { runs.first { $0.results.method == "multitask" }?.results.finalAverage }

    /// Scores 0–100 with one decimal; NLLs (every run on text corpora) with three.
    func f(_ v: Double?) -> String { v.map { String(format: decimals == 3 ? "%.3f" : "%.1f", $0) } ?? "—" }
    private var decimals: Int { !runs.isEmpty && runs.allSatisfy(\.results.lowerIsBetter) ? 3 : 1 }

    public func write(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeAtomically(Data(markdown().utf8), to: (directory as NSString).appendingPathComponent("report.md"))
        try writeAtomically(Data(html().utf8), to: (directory as NSString).appendingPathComponent("report.html"))
        try writeAtomically(Data(groups.csv().utf8), to: (directory as NSString).appendingPathComponent("runs.csv"))
        try writeAtomically(Data(groups.latex().utf8), to: (directory as NSString).appendingPathComponent("groups.tex"))
    }

    static let groupHeader = ["method", "n (seeds)"] + RunGroups.Metric.allCases.map(\.rawValue) + ["gap to multitask"]

    /// One row per group: mean ± sd of each metric; `bold` marks the best mean of a column.
    func groupRows(bold: (String) -> String) -> [[String]] {
        let groups = self.groups
        return groups.groups.map { group in
            let cells = RunGroups.Metric.allCases.map { metric -> String in
                guard let s = group.summary(metric) else { return "—" }
                let text = f(s.mean) + (s.sd.map { " ± " + f($0) } ?? "")
                return groups.isBest(s, metric, group) ? bold(text) : text
            }
            let gap = groups.multitaskACC.flatMap { mt in group.summary(.acc).map { f(mt - $0.mean) } } ?? "—"
            return [group.label, "\(group.runs.count) (\(group.seeds.map(String.init).joined(separator: ", ")))"] + cells + [gap]
        }
    }

    func comparisonRows() -> [[String]] {
        runs.map { run in
            let r = run.results
            // Recomputed from R, so that the report and its formulas always agree.
            let m = ContinualMetrics(results: r)
            let acc = m?.acc ?? r.finalAverage
            return [r.method, (run.directory as NSString).lastPathComponent, f(acc), f(m?.bwt), f(m?.fwt), f(m?.forgetting),
                    f(m?.learningAcc), f(multitaskACC.map { $0 - acc }), String(format: "%.0f s", r.secondsTraining + r.secondsEvaluating)]
        }
    }

    static let comparisonHeader = ["method", "run", "ACC", "BWT", "FWT", "forgetting", "learning acc.", "gap to multitask", "time"]

    public func markdown() -> String {
        var md = "# Lifelong learning report\n\n## Methods compared (mean ± sd over seeds and task orders)\n\n"
        md += table(Self.groupHeader, groupRows { "**\($0)**" })
        md += "\n## Runs\n\n" + table(Self.comparisonHeader, comparisonRows())
        for run in runs {
            let r = run.results
            md += "\n## \(r.method) — \((run.directory as NSString).lastPathComponent)\n\nModel \(r.model), seed \(r.seed). "
            md += "R[i][j] = score on task j (column) after training stage i (row); metrics per task: "
            md += zip(r.tasks, r.metricNames).map { "\($0) \($1)" }.joined(separator: ", ") + ".\n\n"
            let stageNames = r.matrix.count == r.tasks.count ? r.tasks : ["all tasks"]
            md += table(["after ↓ / task →"] + r.tasks,
                        [["untrained"] + r.baseline.map { f($0) }] + zip(stageNames, r.matrix).map { [$0] + $1.map { f($0) } })
            let teachers = teacherRows(r)
            if !teachers.isEmpty { md += "\nTeachers (L2KD): each teacher's score on its own task beside the learner's:\n\n" + table(Self.teacherHeader, teachers) }
            if let (header, rows, note) = retrieval(r) { md += "\n\(Self.retrievalTitle) \(note)\n\n" + table(header, rows) }
            if let moe = MixtureReport(r) {
                md += "\n\(MixtureReport.growthTitle)\n\n" + table(MixtureReport.growthHeader, moe.growthRows)
                if let load = moe.finalLoad { md += "\n\(moe.loadTitle)\n\n" + table(load.header, load.rows.map { $0.map { $0 } }) }
            }
            if let rows = fewShotRows(r) { md += "\n\(Self.fewShotTitle(r))\n\n" + table(Self.fewShotHeader, rows) }
            if r.lowerIsBetter, let last = r.matrix.last {
                md += "\nFinal perplexity (exp NLL): " + zip(r.tasks, last).map { "\($0) \(String(format: "%.2f", exp($1)))" }.joined(separator: ", ") + ".\n"
            }
            if !r.pseudoSamples.isEmpty {
                md += "\nPseudo-samples:\n\n"
                md += table(["for task", "of", "generated", "kept", "discarded", "duplicates", "mean length"], r.pseudoSamples.map { s in
                    [s.forTask, s.of, "\(s.generated)", "\(s.kept)",
                     s.discarded.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
                     "\(s.duplicates)", s.kept > 0 ? String(format: "%.1f", Double(s.totalLength) / Double(s.kept)) : "—"]
                })
            }
        }
        md += ""
        return md + definitionsMarkdown()
    }

    static let fewShotHeader = ["task", "before the stream", "after the stream", "change"]

    static func fewShotTitle(_ r: StreamRunner.Results) -> String {
        "Few-shot accuracy (%, \(r.fewShot?.shots ?? 0)-shot prompts, the label with the largest likelihood), before and after the stream:"
    }

    func fewShotRows(_ r: StreamRunner.Results) -> [[String]]? {
        guard let record = r.fewShot else { return nil }
        return record.tasks.enumerated().map { j, task in
            let before = record.before.map { $0[j] }, after = record.after.map { $0[j] }
            return [task, before.map { String(format: "%.1f", $0) } ?? "—", after.map { String(format: "%.1f", $0) } ?? "—",
                    before.flatMap { b in after.map { String(format: "%+.1f", $0 - b) } } ?? "—"]
        }
    }

    static let teacherHeader = ["task", "teacher", "learner after the task", "learner at the end", "Seq-KD answers = gold"]

    /// L2KD: each teacher's score on its task beside the learner's, right after the task and at the end.
    func teacherRows(_ r: StreamRunner.Results) -> [[String]] {
        guard case let .array(records)? = r.methodStatistics?["teachers"] else { return [] }
        return records.compactMap { record -> [String]? in
            guard case let .string(task)? = record["task"], let j = r.tasks.firstIndex(of: task) else { return nil }
            let afterTask = j < r.matrix.count && r.matrix.count == r.tasks.count ? r.matrix[j][j] : nil
            let equal = record["answers_equal_to_gold"]?.number, total = record["answers"]?.number
            return [task, f(record["score"]?.number), f(afterTask), f(r.matrix.last.map { $0[j] }),
                    equal.flatMap { e in total.map { "\(Int(e)) / \(Int($0))" } } ?? "—"]
        }
    }

    func definitionsMarkdown() -> String {
        var md = "\n## Definitions\n\nT tasks; R[i][j] the score on task j after training task i; b_j the untrained model's score.\n\n"
        md += ContinualMetrics.formulas.map { "- \($0)" }.joined(separator: "\n")
        if runs.contains(where: \.results.lowerIsBetter) {
            md += "\n\nFor text corpora R holds the held-out NLL per token (nats; perplexity = exp NLL), and the same formulas read:\n\n"
            md += ContinualMetrics.lowerIsBetterFormulas.map { "- \($0)" }.joined(separator: "\n")
        }
        md += "\n- Gap to multitask = ACC(multitask) − ACC\n- Scores: EM (exact match, case-sensitive), nEM, nF1 (SQuAD normalisation), accuracy, macro-F1; all 0–100.\n"
        return md
    }

    func table(_ header: [String], _ rows: [[String]]) -> String {
        "| " + header.joined(separator: " | ") + " |\n|" + header.map { _ in "---|" }.joined() + "\n"
            + rows.map { "| " + $0.joined(separator: " | ") + " |\n" }.joined()
    }

    // MARK: HTML

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    func htmlTable(_ header: [String], _ rows: [[String]]) -> String {
        "<table><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
            + rows.map { "<tr>" + $0.map { "<td>\(escape($0))</td>" }.joined() + "</tr>" }.joined() + "</table>"
    }

    /// R as coloured cells (white 0 → blue 100) with the score in each; the untrained model's row
    /// (b) first, as in the Markdown table.
    func heatmap(_ r: StreamRunner.Results) -> String {
        let cell = 64, left = 130, top = 100
        let stages = r.matrix.count == r.tasks.count ? r.tasks.map { "after \($0)" } : ["after all tasks"]
        let hasBaseline = r.baseline.count == r.tasks.count
        let rows = (hasBaseline ? ["untrained"] : []) + stages
        let matrix = (hasBaseline ? [r.baseline] : []) + r.matrix
        let scale = Self.axisTop(matrix.flatMap { $0 }, lowerIsBetter: r.lowerIsBetter)  // NLL: darker is lower
        let width = left + cell * r.tasks.count + 10, height = top + cell * matrix.count + 10
        var svg = "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' font-family='sans-serif' font-size='12'>"
        for (j, task) in r.tasks.enumerated() {
            let x = left + j * cell + cell / 2
            svg += "<text x='\(x)' y='\(top - 8)' transform='rotate(-40 \(x) \(top - 8))'>\(escape(task))</text>"
        }
        for (i, row) in matrix.enumerated() {
            svg += "<text x='\(left - 6)' y='\(top + i * cell + cell / 2 + 4)' text-anchor='end'>\(escape(rows[i]))</text>"
            for (j, v) in row.enumerated() {
                let t = max(0, min(1, r.lowerIsBetter ? 1 - v / scale : v / scale))
                let (red, green) = (Int(255 - 215 * t), Int(255 - 150 * t))
                svg += "<rect x='\(left + j * cell)' y='\(top + i * cell)' width='\(cell - 2)' height='\(cell - 2)' fill='rgb(\(red),\(green),255)'/>"
                svg += "<text x='\(left + j * cell + cell / 2 - 1)' y='\(top + i * cell + cell / 2 + 4)' text-anchor='middle' fill='\(t > 0.6 ? "white" : "black")'>\(f(v))</text>"
            }
        }
        return svg + "</svg>"
    }

    /// One line per group: the average score over the tasks seen so far after each stage, mean
    /// over the group's runs with a band of ± one standard deviation.
    func averageCurves(_ groups: RunGroups) -> String {
        let lines = groups.groups.map { ($0.label, $0.averageSeenSoFar) }.filter { !$0.1.isEmpty }
        guard let stages = lines.map(\.1.count).max(), stages > 1 else { return "" }
        let width = 720, height = 300, left = 56, bottom = 46, right = 260
        let plotW = width - left - right, plotH = height - bottom - 12
        func x(_ i: Int) -> Int { left + i * plotW / (stages - 1) }
        let nll = runs.first?.results.lowerIsBetter ?? false
        let top = Self.axisTop(lines.flatMap { $0.1.map { $0.mean + ($0.sd ?? 0) } }, lowerIsBetter: nll)
        func y(_ v: Double) -> Int { 12 + Int(Double(plotH) * (1 - max(0, min(top, v)) / top)) }
        var svg = "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' font-family='sans-serif' font-size='11'>"
        svg += "<line x1='\(left)' y1='\(y(0))' x2='\(left + plotW)' y2='\(y(0))' stroke='#999'/><line x1='\(left)' y1='\(y(0))' x2='\(left)' y2='\(y(top))' stroke='#999'/>"
        for k in 0...4 { let v = top * Double(k) / 4; svg += "<text x='\(left - 4)' y='\(y(v) + 4)' text-anchor='end'>\(Self.tick(v))</text>" }
        for i in 0..<stages { svg += "<text x='\(x(i))' y='\(height - 28)' text-anchor='middle'>after task \(i + 1)</text>" }
        svg += "<text x='\(left + plotW / 2)' y='\(height - 8)' text-anchor='middle'>stage (tasks learnt so far)</text>"
        svg += "<text x='14' y='\(12 + plotH / 2)' text-anchor='middle' transform='rotate(-90 14 \(12 + plotH / 2))'>\(nll ? "mean NLL per token over the distributions seen (lower is better)" : "mean score over the tasks seen (0–100)")</text>"
        for (k, (label, summaries)) in lines.enumerated() {
            let colour = Self.colours[k % Self.colours.count]
            let upper = summaries.enumerated().map { "\(x($0)),\(y($1.mean + ($1.sd ?? 0)))" }
            let lower = summaries.enumerated().reversed().map { "\(x($0)),\(y($1.mean - ($1.sd ?? 0)))" }
            svg += "<polygon points='\((upper + lower).joined(separator: " "))' fill='\(colour)' fill-opacity='0.15' stroke='none'/>"
            svg += "<polyline points='\(summaries.enumerated().map { "\(x($0)),\(y($1.mean))" }.joined(separator: " "))' fill='none' stroke='\(colour)' stroke-width='2'/>"
            svg += "<rect x='\(left + plotW + 12)' y='\(14 + k * 18)' width='12' height='12' fill='\(colour)'/>"
            svg += "<text x='\(left + plotW + 30)' y='\(24 + k * 18)'>\(escape(label)) (n = \(summaries[0].n))</text>"
        }
        return svg + "</svg>"
    }

    /// The top of a value axis: 100 for scores, the largest value rounded up for NLLs.
    static func axisTop(_ values: [Double], lowerIsBetter: Bool) -> Double {
        guard lowerIsBetter else { return 100 }
        return max(1, (values.filter(\.isFinite).max() ?? 1).rounded(.up))
    }

    static func tick(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(format: "%.2f", v) }

    static let colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// One line per task: its score after each stage, from the stage that trains it on.
    func curves(_ r: StreamRunner.Results) -> String {
        guard r.matrix.count > 1 else { return "" }
        let width = 520, height = 240, left = 40, bottom = 30, right = 150
        let plotW = width - left - right, plotH = height - bottom - 10
        let colours = Self.colours
        func x(_ i: Int) -> Int { left + (r.matrix.count == 1 ? 0 : i * plotW / (r.matrix.count - 1)) }
        let top = Self.axisTop(r.matrix.flatMap { $0 }, lowerIsBetter: r.lowerIsBetter)
        func y(_ v: Double) -> Int { 10 + Int(Double(plotH) * (1 - max(0, min(top, v)) / top)) }
        var svg = "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' font-family='sans-serif' font-size='11'>"
        svg += "<line x1='\(left)' y1='\(y(0))' x2='\(left + plotW)' y2='\(y(0))' stroke='#999'/><line x1='\(left)' y1='\(y(0))' x2='\(left)' y2='\(y(top))' stroke='#999'/>"
        for k in 0...4 { let v = top * Double(k) / 4; svg += "<text x='\(left - 4)' y='\(y(v) + 4)' text-anchor='end'>\(Self.tick(v))</text>" }
        for i in r.matrix.indices { svg += "<text x='\(x(i))' y='\(height - 10)' text-anchor='middle'>after \(i + 1)</text>" }
        for (j, task) in r.tasks.enumerated() {
            let colour = colours[j % colours.count]
            let points = (j..<r.matrix.count).map { "\(x($0)),\(y(r.matrix[$0][j]))" }.joined(separator: " ")
            svg += "<polyline points='\(points)' fill='none' stroke='\(colour)' stroke-width='2'/>"
            for i in j..<r.matrix.count { svg += "<circle cx='\(x(i))' cy='\(y(r.matrix[i][j]))' r='3' fill='\(colour)'/>" }
            svg += "<text x='\(left + plotW + 8)' y='\(20 + j * 16)' fill='\(colour)'>\(escape(task))</text>"
        }
        return svg + "</svg>"
    }

    static let retrievalTitle = "Retrieval (SLM): test examples of each true task (row) by the task owning their top slot (column), in the final evaluation."

    /// SLM: the retrieval confusion matrix with each task's retrieval accuracy, and the storage.
    func retrieval(_ r: StreamRunner.Results) -> (header: [String], rows: [[String]], note: String)? {
        guard case let .object(record)? = r.methodStatistics?["retrieval"],
              case let .array(tasks)? = record["tasks"], case let .array(confusion)? = record["confusion"],
              case let .array(accuracy)? = record["accuracy"] else { return nil }
        let names = tasks.compactMap { value -> String? in if case let .string(s) = value { return s } else { return nil } }
        let rows = zip(names, zip(confusion, accuracy)).map { name, cells -> [String] in
            guard case let .array(counts) = cells.0 else { return [name] }
            return [name] + counts.map { $0.number.map { "\(Int($0))" } ?? "—" } + [f(cells.1.number.map { 100 * $0 })]
        }
        var note = "Mode: \(record["mode"].flatMap { if case let .string(s) = $0 { return s } else { return nil } } ?? "?")."
        if case let .object(storage)? = r.methodStatistics?["storage"], let perTask = storage["parameters_per_task"]?.number,
           let total = storage["parameters_total"]?.number {
            note += " Storage: \(Int(perTask)) parameters per task (slots and keys), \(Int(total)) in all"
            if case let .array(tokens)? = storage["training_tokens_per_task"] {
                let counts = tokens.compactMap(\.number).map { "\(Int($0))" }
                note += "; replaying every real training example would store \(counts.joined(separator: " / ")) tokens per task"
            }
            note += "."
        }
        return (["true task ↓ / retrieved →"] + names + ["retrieval accuracy %"], rows, note)
    }

    public func html() -> String {
        var page = """
        <!doctype html><html><head><meta charset='utf-8'><title>Lifelong learning report</title><style>
        body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}
        td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}h2{margin-top:2em}code{background:#f3f3f3}
        </style></head><body><h1>Lifelong learning report</h1><h2>Methods compared (mean ± sd over seeds and task orders)</h2>
        """
        page += htmlTable(Self.groupHeader, groupRows { "\u{1}\($0)\u{2}" })
            .replacingOccurrences(of: "\u{1}", with: "<b>").replacingOccurrences(of: "\u{2}", with: "</b>")
        page += averageCurves(groups)
        page += "<h2>Runs</h2>" + htmlTable(Self.comparisonHeader, comparisonRows())
        for run in runs {
            let r = run.results
            page += "<h2>\(escape(r.method)) — \(escape((run.directory as NSString).lastPathComponent))</h2>"
            page += "<p>Model \(escape(r.model)), seed \(r.seed). Score matrix R (row: after stage, column: task).</p>"
            page += heatmap(r) + curves(r)
            let teachers = teacherRows(r)
            if !teachers.isEmpty { page += "<h3>Teachers (L2KD)</h3>" + htmlTable(Self.teacherHeader, teachers) }
            if let (header, rows, note) = retrieval(r) { page += "<h3>Retrieval (SLM)</h3><p>\(escape(Self.retrievalTitle + " " + note))</p>" + htmlTable(header, rows) }
            if let rows = fewShotRows(r) { page += "<h3>Few-shot</h3><p>\(escape(Self.fewShotTitle(r)))</p>" + htmlTable(Self.fewShotHeader, rows) }
            if let moe = MixtureReport(r) {
                page += "<h3>Mixture of experts</h3><p>\(escape(MixtureReport.growthTitle))</p>" + htmlTable(MixtureReport.growthHeader, moe.growthRows)
                if let load = moe.finalLoad { page += "<p>\(escape(moe.loadTitle))</p>" + moe.loadHeatmap(load, escape: escape) }
            }
            if !r.pseudoSamples.isEmpty {
                page += "<h3>Pseudo-samples</h3>" + htmlTable(["for task", "of", "generated", "kept", "discarded", "duplicates"], r.pseudoSamples.map { s in
                    [s.forTask, s.of, "\(s.generated)", "\(s.kept)", s.discarded.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "), "\(s.duplicates)"]
                })
            }
        }
        page += "<h2>Definitions</h2><p>T tasks; R[i][j] the score on task j after training task i; b<sub>j</sub> the untrained model's score.</p><ul>"
        page += ContinualMetrics.formulas.map { "<li><code>\(escape($0))</code></li>" }.joined()
        page += "<li><code>Gap to multitask = ACC(multitask) − ACC</code></li></ul>"
        if runs.contains(where: \.results.lowerIsBetter) {
            page += "<p>For text corpora R holds the held-out NLL per token (nats; perplexity = exp NLL), and the same formulas read:</p><ul>"
            page += ContinualMetrics.lowerIsBetterFormulas.map { "<li><code>\(escape($0))</code></li>" }.joined() + "</ul>"
        }
        page += "</body></html>\n"
        return page
    }
}
