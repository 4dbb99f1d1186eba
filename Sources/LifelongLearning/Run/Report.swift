import Foundation
import LifelongFormats

/// `report.md` and a self-contained `report.html` (inline SVG, no scripts) for one or more runs:
/// each run's score matrix as a heatmap, per-task score curves along the stream, a comparison
/// of the methods, pseudo-sample statistics, and the definitions of every metric.
public struct Report {
    public struct Run {
        public let directory: String
        public let results: StreamRunner.Results
        /// `lifelong evaluate`'s re-evaluations of the run (`evaluations/*.json`).
        public var evaluations: [SavedEvaluation] = []
    }

    public let runs: [Run]
    /// The runs grouped by everything but seed: means ± sd.
    package let groups: RunGroups
    /// ACC of the multitask run among the reports, if any: the reference for the gap.
    let multitaskACC: Double?
    /// Decimals of every score: 1 for scores 0–100, 3 for NLLs (every run on text corpora).
    private let decimals: Int

    /// Runs that could not be read, each with the reason: the report names them and goes on.
    public let broken: [FormatError]

    /// Reads each run directory. A run whose files are missing or damaged is left out and named in
    /// `broken`; when no run can be read the first problem is thrown.
    public init(runDirectories: [String]) throws {
        var runs: [Run] = [], broken: [FormatError] = []
        for directory in runDirectories {
            do { runs.append(try Self.read(directory)) } catch let error as FormatError { broken.append(error) }
        }
        if runs.isEmpty, let first = broken.first { throw first }
        self.runs = runs
        self.broken = broken
        groups = RunGroups(runs)
        multitaskACC = runs.first { $0.results.isUnionRun }?.results.finalAverage
        decimals = !runs.isEmpty && runs.allSatisfy(\.results.lowerIsBetter) ? 3 : 1
    }

    private static func read(_ directory: String) throws -> Run {
        let path = (directory as NSString).appendingPathComponent("results.json")
        guard FileManager.default.fileExists(atPath: path) else { throw FormatError(file: path, "missing: is this a run directory?") }
        let results = try StrictJSON.decode(StreamRunner.Results.self, from: try UserFile.data(path), file: path)
        if let problem = results.problem() { throw FormatError(file: path, problem) }
        return Run(directory: directory, results: results, evaluations: try SavedEvaluation.all(in: directory))
    }

    /// The run directories under `folder` (a sweep, or any folder of runs), at most `depth`
    /// levels down, in name order; `folder` itself when it is one.
    public static func runDirectories(under folder: String, depth: Int = 3) -> [String] {
        if FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent("results.json")) { return [folder] }
        guard depth > 0, let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        return names.sorted().filter { !$0.hasPrefix(".") }.flatMap { name -> [String] in
            let path = (folder as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [] }
            return runDirectories(under: path, depth: depth - 1)
        }
    }

    /// Scores 0–100 with one decimal; NLLs (every run on text corpora) with three.
    func f(_ v: Double?) -> String { v.map { String(format: decimals == 3 ? "%.3f" : "%.1f", $0) } ?? "—" }

    public func write(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeAtomically(Data(markdown().utf8), to: (directory as NSString).appendingPathComponent("report.md"))
        try writeAtomically(Data(html().utf8), to: (directory as NSString).appendingPathComponent("report.html"))
        try writeAtomically(Data(groups.csv().utf8), to: (directory as NSString).appendingPathComponent("runs.csv"))
        try writeAtomically(Data(groups.latex().utf8), to: (directory as NSString).appendingPathComponent("groups.tex"))
    }

    static let groupHeader = ["method", "n (seeds)"] + RunGroups.Metric.allCases.map(\.rawValue) + ["gap to multitask"]

    /// One row per group: mean ± sd of each metric, the best mean of each column in bold.
    func groupTable() -> ReportDocument.Table {
        let groups = self.groups
        var table = ReportDocument.Table(header: Self.groupHeader, rows: [])
        for (r, group) in groups.groups.enumerated() {
            let cells = RunGroups.Metric.allCases.enumerated().map { c, metric -> String in
                guard let s = group.summary(metric) else { return "—" }
                if groups.isBest(s, metric, group) { table.bold.insert([r, c + 2]) }
                return f(s.mean) + (s.sd.map { " ± " + f($0) } ?? "")
            }
            let gap = groups.multitaskACC.flatMap { mt in group.summary(.acc).map { f(mt - $0.mean) } } ?? "—"
            table.rows.append([group.label, "\(group.runs.count) (\(group.seeds.map(String.init).joined(separator: ", ")))"] + cells + [gap])
        }
        return table
    }

    /// Secondary metrics (BLEU beside ROUGE-L): each group's mean ± sd over its runs of the final
    /// average, and of the untrained model's; nil when no run has one.
    func secondaryGroupTable() -> ReportDocument.Table? {
        let metrics = Set(runs.flatMap { ($0.results.secondaryScores ?? [:]).keys }).sorted()
        guard !metrics.isEmpty else { return nil }
        func cell(_ values: [Double]) -> String {
            RunGroups.Summary(values).map { f($0.mean) + ($0.sd.map { " ± " + f($0) } ?? "") } ?? "—"
        }
        let rows = groups.groups.map { group in
            [group.label] + metrics.flatMap { metric -> [String] in
                let scores = group.runs.compactMap { $0.results.secondaryScores?[metric] }
                return [cell(scores.compactMap { $0.baseline.map { $0.reduce(0, +) / Double(max(1, $0.count)) } }),
                        cell(scores.compactMap(\.finalAverage))]
            }
        }
        return .init(header: ["method"] + metrics.flatMap { ["\($0) untrained", "\($0) after the stream"] }, rows: rows)
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

    public func markdown() -> String { document().markdown() }
    public func html() -> String { document().html() }

    /// The whole report: the groups, every run, the definitions.
    package func document() -> ReportDocument {
        var doc = ReportDocument(title: "Lifelong learning report")
        doc.add(.heading(level: 2, "Methods compared (mean ± sd over seeds and task orders)"))
        doc.add(.table(groupTable()))
        if let secondary = secondaryGroupTable() {
            doc.add(.paragraph("Secondary metrics, the mean over their tasks (mean ± sd over runs):"))
            doc.add(.table(secondary))
        }
        if let curves = averageCurves(groups) {
            doc.add(.figure(svg: curves, caption: "The mean score (NLL per token for text corpora) over the tasks seen so far after each stage, one line per group, shaded ± one sd over its runs."))
        }
        for group in groups.groups where group.runs.count > 1 {
            guard let svg = taskCurves(group) else { continue }
            let orders = group.sharedOrder == nil ? " Their task orders differ: stages are numbered, and a task's point covers the runs that had learnt it by then." : ""
            doc.add(.figure(svg: svg, caption: "Per-task scores of \(group.label) after every stage, mean over its \(group.runs.count) runs, shaded ± one sd.\(orders)"))
        }
        if !broken.isEmpty {
            doc.add(.heading(level: 2, "Runs that could not be read"))
            doc.add(.list(broken.map(\.description)))
        }
        doc.add(.heading(level: 2, "Runs"))
        doc.add(.table(.init(header: Self.comparisonHeader, rows: comparisonRows())))
        for run in runs { addRun(run, to: &doc) }
        addDefinitions(to: &doc)
        return doc
    }

    private func addRun(_ run: Run, to doc: inout ReportDocument) {
        let r = run.results
        doc.add(.heading(level: 2, "\(r.method) — \((run.directory as NSString).lastPathComponent)"))
        doc.add(.paragraph("Model \(r.model), seed \(r.seed). R[i][j] = score on task j (column) after training stage i (row); metrics per task: "
                           + zip(r.tasks, r.metricNames).map { "\($0) \($1)" }.joined(separator: ", ") + "."))
        let stageNames = Self.stageNames(r)
        doc.add(.table(.init(header: ["after ↓ / task →"] + r.tasks,
                             rows: [["untrained"] + r.baseline.map { f($0) }] + zip(stageNames, r.matrix).map { [$0] + $1.map { f($0) } })))
        doc.add(.figure(svg: heatmap(r), caption: "R as a heatmap (the untrained model's row first)."))
        for (metric, scores) in (r.secondaryScores ?? [:]).sorted(by: { $0.key < $1.key }) {
            doc.add(.paragraph("\(metric) of the same predictions, laid out as R:"))
            doc.add(.table(.init(header: ["after ↓ / task →"] + scores.tasks,
                                 rows: [["untrained"] + (scores.baseline ?? []).map { f($0) }]
                                     + zip(stageNames, scores.matrix).map { [$0] + $1.map { f($0) } })))
        }
        if let svg = taskCurves(RunGroups.Group(label: r.method, runs: [run])) {
            doc.add(.figure(svg: svg, caption: "Each task's score after every stage, from the stage that trains it on."))
        }
        if r.lowerIsBetter, let last = r.matrix.last {
            doc.add(.paragraph("Final perplexity (exp NLL): " + zip(r.tasks, last).map { "\($0) \(String(format: "%.2f", exp($1)))" }.joined(separator: ", ") + "."))
        }
        for section in r.reportSections ?? MethodRegistry.reportSections(r) { section.add(to: &doc) }
        if let rows = fewShotRows(r) {
            doc.add(.heading(level: 3, "Few-shot"))
            doc.add(.paragraph(Self.fewShotTitle(r)))
            doc.add(.table(.init(header: Self.fewShotHeader, rows: rows)))
        }
        if !r.pseudoSamples.isEmpty {
            doc.add(.heading(level: 3, "Pseudo-samples"))
            doc.add(.table(.init(header: ["for task", "of", "generated", "kept", "discarded", "duplicates", "mean length"], rows: r.pseudoSamples.map { s in
                [s.forTask, s.of, "\(s.generated)", "\(s.kept)",
                 s.discardReasons,
                 "\(s.duplicates)", s.kept > 0 ? String(format: "%.1f", Double(s.totalLength) / Double(s.kept)) : "—"]
            })))
        }
        if let table = evaluationTable(run) {
            doc.add(.heading(level: 3, "Re-evaluations"))
            doc.add(.paragraph("The last checkpoint evaluated again with other settings (`lifelong evaluate`, evaluations/*.json), "
                               + "beside the run's own evaluation after its last stage."))
            doc.add(.table(table))
        }
        RunFiles(directory: run.directory).add(to: &doc, results: r)
    }

    func escape(_ s: String) -> String { ReportDocument.escape(s) }

    /// What each row of R followed: multitask's one stage on all tasks, else the task of each
    /// stage so far (a run stopped part-way has fewer rows than tasks).
    static func stageNames(_ r: StreamRunner.Results) -> [String] {
        if r.isUnionRun && r.matrix.count == 1 { return ["all tasks"] }
        return r.matrix.indices.map { $0 < r.tasks.count ? r.tasks[$0] : "stage \($0 + 1)" }
    }

    static let fewShotHeader = ["task", "before the stream", "after the stream", "change"]

    static func fewShotTitle(_ r: StreamRunner.Results) -> String {
        "Few-shot accuracy (%, \(r.fewShot?.shots ?? 0)-shot prompts, the label with the largest likelihood), before and after the stream:"
    }

    func fewShotRows(_ r: StreamRunner.Results) -> [[String]]? {
        guard let record = r.fewShot else { return nil }  // its shapes are checked when read (`problem()`)
        return record.tasks.enumerated().map { j, task in
            let before = record.before.map { $0[j] }, after = record.after.map { $0[j] }
            return [task, before.map { String(format: "%.1f", $0) } ?? "—", after.map { String(format: "%.1f", $0) } ?? "—",
                    before.flatMap { b in after.map { String(format: "%+.1f", $0 - b) } } ?? "—"]
        }
    }

    /// R as coloured cells (white 0 → blue 100) with the score in each; the untrained model's row
    /// (b) first, as in the Markdown table.
    func heatmap(_ r: StreamRunner.Results) -> String {
        let cell = 64, left = 130, top = 100
        let stages = Self.stageNames(r).map { "after \($0)" }
        let hasBaseline = r.baseline.count == r.tasks.count
        let rows = (hasBaseline ? ["untrained"] : []) + stages
        let matrix = (hasBaseline ? [r.baseline] : []) + r.matrix
        let scale = Self.axisTop(matrix.flatMap { $0 }, lowerIsBetter: r.lowerIsBetter)  // NLL: darker is lower
        let width = left + cell * r.tasks.count + 100, height = top + cell * matrix.count + 10
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
        // The colour bar: what a shade means, best at the top.
        let barX = left + cell * r.tasks.count + 16, barH = cell * matrix.count - 2
        for k in 0..<10 {
            let t = Double(k) / 9
            svg += "<rect x='\(barX)' y='\(top + barH - (k + 1) * barH / 10)' width='14' height='\(barH / 10 + 1)' fill='rgb(\(Int(255 - 215 * t)),\(Int(255 - 150 * t)),255)'/>"
        }
        let (best, worst) = r.lowerIsBetter ? ("0", Self.tick(scale)) : (Self.tick(scale), "0")
        svg += "<text x='\(barX + 18)' y='\(top + 10)'>\(best)</text><text x='\(barX + 18)' y='\(top + barH)'>\(worst)</text>"
        svg += "<text x='\(barX + 18)' y='\(top + barH / 2)'>\(r.lowerIsBetter ? "NLL" : "score")</text>"
        return svg + "</svg>"
    }

    /// One line per group: the average score over the tasks seen so far after each stage, mean
    /// over the group's runs with a band of ± one standard deviation.
    func averageCurves(_ groups: RunGroups) -> String? {
        let lines = groups.groups.map { ($0.label, $0.averageSeenSoFar) }.filter { !$0.1.isEmpty }
        guard let stages = lines.map(\.1.count).max(), stages > 1 else { return nil }
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
        svg += "<text x='14' y='\(12 + plotH / 2)' text-anchor='middle' transform='rotate(-90 14 \(12 + plotH / 2))'>\(nll ? "mean NLL over distributions seen (lower: better)" : "mean score over the tasks seen (0–100)")</text>"
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

    static func tick(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(format: "%.2f", v) }

    static let colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// One line per task: its score after each stage, from the stage that trains it on; over
    /// several runs the mean, with a band of ± one standard deviation. Stages are named by their
    /// task when the runs share an order, else numbered.
    func taskCurves(_ group: RunGroups.Group) -> String? {
        let lines = group.taskCurves
        guard let first = group.runs.first?.results, let stages = lines.first?.points.count else { return nil }
        let width = 560, height = 290, left = 60, bottom = 80, right = 150
        let plotW = width - left - right, plotH = height - bottom - 10
        func x(_ i: Int) -> Int { left + i * plotW / (stages - 1) }
        let top = Self.axisTop(lines.flatMap { $0.points.compactMap { $0.map { $0.mean + ($0.sd ?? 0) } } }, lowerIsBetter: first.lowerIsBetter)
        func y(_ v: Double) -> Int { 10 + Int(Double(plotH) * (1 - max(0, min(top, v)) / top)) }
        var svg = "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' font-family='sans-serif' font-size='11'>"
        svg += "<line x1='\(left)' y1='\(y(0))' x2='\(left + plotW)' y2='\(y(0))' stroke='#999'/><line x1='\(left)' y1='\(y(0))' x2='\(left)' y2='\(y(top))' stroke='#999'/>"
        for k in 0...4 { let v = top * Double(k) / 4; svg += "<text x='\(left - 4)' y='\(y(v) + 4)' text-anchor='end'>\(Self.tick(v))</text>" }
        let stageNames = group.sharedOrder ?? (1...stages).map { "task \($0)" }
        for i in 0..<stages {
            svg += "<text x='\(x(i))' y='\(y(0) + 14)' text-anchor='end' font-size='10' transform='rotate(-20 \(x(i)) \(y(0) + 14))'>\(escape(stageNames[i]))</text>"
        }
        svg += "<text x='\(left + plotW / 2)' y='\(height - 4)' text-anchor='middle'>after training on (stage)</text>"
        let metric = first.lowerIsBetter ? "held-out NLL per token" : "score (" + Set(first.metricNames).sorted().joined(separator: ", ") + ")"
        svg += "<text x='14' y='\(10 + plotH / 2)' text-anchor='middle' transform='rotate(-90 14 \(10 + plotH / 2))'>\(escape(metric))</text>"
        for (k, line) in lines.enumerated() {
            let colour = Self.colours[k % Self.colours.count]
            let points = line.points.enumerated().compactMap { i, s in s.map { (i, $0) } }
            if points.contains(where: { $0.1.sd != nil }) {
                let upper = points.map { "\(x($0.0)),\(y($0.1.mean + ($0.1.sd ?? 0)))" }
                let lower = points.reversed().map { "\(x($0.0)),\(y($0.1.mean - ($0.1.sd ?? 0)))" }
                svg += "<polygon points='\((upper + lower).joined(separator: " "))' fill='\(colour)' fill-opacity='0.12' stroke='none'/>"
            }
            svg += "<polyline points='\(points.map { "\(x($0.0)),\(y($0.1.mean))" }.joined(separator: " "))' fill='none' stroke='\(colour)' stroke-width='2'/>"
            for (i, s) in points { svg += "<circle cx='\(x(i))' cy='\(y(s.mean))' r='3' fill='\(colour)'/>" }
            svg += "<rect x='\(left + plotW + 8)' y='\(11 + k * 16)' width='10' height='10' fill='\(colour)'/>"
            svg += "<text x='\(left + plotW + 22)' y='\(20 + k * 16)'>\(escape(line.task))</text>"
        }
        return svg + "</svg>"
    }

    /// The run's final row of R, then each re-evaluation: scores per task, their mean, and the
    /// method's headline figures (SLM: the mean retrieval accuracy).
    func evaluationTable(_ run: Run) -> ReportDocument.Table? {
        guard !run.evaluations.isEmpty, let last = run.results.matrix.last else { return nil }
        let entries = [("the run", "—", last, run.results.methodStatistics)]
            + run.evaluations.map { ($0.name, $0.settings.isEmpty ? "—" : $0.settings.joined(separator: ", "), $0.evaluation.scores, $0.evaluation.methodStatistics) }
        let figures = entries.map { MethodRegistry.headlineFigures($0.3) }
        var names: [String] = []
        for (name, _) in figures.joined() where !names.contains(name) { names.append(name) }
        let rows = zip(entries, figures).map { entry, figure in
            [entry.0, entry.1] + entry.2.map { f($0) } + [f(entry.2.reduce(0, +) / Double(max(entry.2.count, 1)))]
                + names.map { name in f(figure.first { $0.name == name }?.value) }
        }
        return .init(header: ["evaluation", "settings"] + run.results.tasks + ["mean"] + names, rows: rows)
    }

    private func addDefinitions(to doc: inout ReportDocument) {
        doc.add(.heading(level: 2, "Definitions"))
        doc.add(.paragraph("T tasks; R[i][j] the score on task j after training task i; b_j the untrained model's score."))
        doc.add(.list(ContinualMetrics.formulas + ["Gap to multitask = ACC(multitask) − ACC"]))
        if runs.contains(where: \.results.lowerIsBetter) {
            doc.add(.paragraph("For text corpora R holds the held-out NLL per token (nats; perplexity = exp NLL), and the same formulas read:"))
            doc.add(.list(ContinualMetrics.lowerIsBetterFormulas))
        }
        doc.add(.paragraph("Scores: EM (exact match, case-sensitive), nEM, nF1 (SQuAD normalisation), accuracy, macro-F1, ROUGE-L, BLEU; all 0–100."))
    }
}
