import Foundation
import LifelongLearning
import Testing

@Suite struct RunConfigTests {
    let example = """
    name: intents-lamol
    seed: 7
    model: smollm2-135m
    stream: [clinc150:banking, clinc150:travel]
    subsample: {train: 80, test: 40}
    method: {name: lamol, prompting: gen, sample_ratio: 0.05}
    training: {learning_rate: 1.0e-4, epochs: 2}
    """

    @Test func parsesKeysAndOverrides() throws {
        let config = try RunConfig(yaml: example, overrides: ["method.sample_ratio=0.2", "training.epochs=5", "name=other"], source: "x.yaml")
        #expect(config.name == "other" && config.seed == 7 && config.model == "smollm2-135m")
        #expect(config.stream == ["clinc150:banking", "clinc150:travel"])
        #expect(config.subsampleTrain == 80 && config.subsampleTest == 40)
        let lamol = try #require(config.method as? LAMOL.Config)
        #expect(lamol.name == "lamol" && lamol.prompting == .generic && lamol.sampleRatio == 0.2)
        #expect(config.training.learningRate == 1e-4 && config.training.epochs == 5)
        #expect(config.training.lmWeight == 0.25 && config.training.answerWeight == 5)  // LAMOL defaults kept
        // The resolved config parses back to the same values.
        let again = try RunConfig(yaml: config.yaml, source: "config.yaml")
        #expect(try again.yaml == config.yaml)
        #expect(try again.difference(from: config) == nil)
        #expect(try config.yaml.contains("learning_rate: 1e-4") || config.yaml.contains("learning_rate: 0.0001"))
    }

    /// Each method reads its own section; the resolved config parses back to itself, and a changed
    /// value is named by its key.
    @Test func methodSectionsRoundTripAndDifferencesNameTheKey() throws {
        let l2kd = try RunConfig(yaml: example, overrides: ["method.name=l2kd", "method.variant=seq_soft", "method.teacher.epochs=2",
                                                            "method.temperature=3", "method.distil_lm=false"], source: "x.yaml")
        let method = try #require(l2kd.method as? L2KD.Config)
        #expect(method.variant == .seqSoft && method.temperature == 3 && method.teacher.epochs == 2 && method.lamol.prompting == .generic)
        #expect(!method.distilLM && (method.makeMethod() as? L2KD)?.distilsLM == false)
        let again = try RunConfig(yaml: l2kd.yaml, source: "config.yaml")
        #expect(try again.yaml == l2kd.yaml)
        let other = try RunConfig(yaml: example, overrides: ["method.name=l2kd", "method.variant=seq_soft", "method.teacher.epochs=3",
                                                             "method.temperature=3", "method.distil_lm=false"], source: "x.yaml")
        #expect(try other.difference(from: l2kd) == "method.teacher.epochs: 2 → 3")
        // `teacher.keep` is written only when false, so configs of runs made before it existed stay equal.
        #expect(try !l2kd.yaml.contains("keep"))
        let dropping = try RunConfig(yaml: example, overrides: ["method.name=l2kd", "method.variant=seq_soft", "method.teacher.epochs=2",
                                                                "method.temperature=3", "method.distil_lm=false", "method.teacher.keep=false"], source: "x.yaml")
        #expect((dropping.method as? L2KD.Config)?.teacher.keep == false)
        #expect(try RunConfig(yaml: dropping.yaml, source: "config.yaml").yaml == dropping.yaml)
        #expect(try dropping.difference(from: l2kd) == "method.teacher.keep: (absent) → false")
        // `loss_combination` likewise, written only when not the default (`positions`).
        #expect(try !l2kd.yaml.contains("loss_combination"))
        let summing = try RunConfig(yaml: example, overrides: ["method.name=l2kd", "method.variant=seq_soft", "method.teacher.epochs=2",
                                                               "method.temperature=3", "method.distil_lm=false", "method.loss_combination=sum"], source: "x.yaml")
        #expect((summing.method.makeMethod() as? L2KD)?.lossCombination == .sum)
        #expect(try RunConfig(yaml: summing.yaml, source: "config.yaml").yaml == summing.yaml)
        #expect(try summing.difference(from: l2kd) == "method.loss_combination: (absent) → sum")
        // Switching the method with --set keeps the file's keys the new method knows and drops the rest;
        // a key given with --set is checked against the new method.
        let finetune = try RunConfig(yaml: example, overrides: ["method.name=finetune"], source: "x.yaml")
        #expect(finetune.method is Finetune.Config)
        #expect(method.lamol.sampleRatio == 0.05, "l2kd keeps the file's LAMOL keys")
        #expect { try RunConfig(yaml: example, overrides: ["method.name=finetune", "method.top_k=3"], source: "x.yaml") } throws: {
            "\($0)".contains("unknown key 'method.top_k'")
        }
        let ewc = try RunConfig(yaml: "method: {name: ewc, ewc_lambda: 100}", source: "x.yaml")
        #expect((ewc.method as? EWC.Config)?.strength == 100)
        #expect(try RunConfig(yaml: ewc.yaml, source: "c.yaml").difference(from: ewc) == nil)
    }

    /// `lifelong evaluate` may change only what acts at evaluation; anything the run trained with
    /// is named.
    @Test func evaluationSettingsAreTheOnlyFreeKeys() throws {
        let slm = "stream: tiny\nmethod: {name: slm, retrieved_slots: 2}\nevaluation: {batch_size: 64}\n"
        let trained = try RunConfig(yaml: slm, source: "config.yaml")
        let free = try RunConfig(yaml: slm, overrides: ["method.oracle_task=true", "method.retrieval=per_batch",
                                                        "evaluation.batch_size=8", "evaluation.decoding=top_k"], source: "config.yaml")
        #expect(try free.trainingDifference(from: trained) == nil)
        let topK = try RunConfig(yaml: slm, overrides: ["method.oracle_task=true", "method.retrieved_slots=1"], source: "config.yaml")
        #expect(try topK.trainingDifference(from: trained) == "method.retrieved_slots: 2 → 1")
        let epochs = try RunConfig(yaml: slm, overrides: ["training.epochs=9"], source: "config.yaml")
        #expect(try epochs.trainingDifference(from: trained)?.hasPrefix("training.epochs: ") == true)
        let lamol = try RunConfig(yaml: "stream: tiny", source: "config.yaml")
        let ratio = try RunConfig(yaml: "stream: tiny", overrides: ["method.sample_ratio=0.5"], source: "config.yaml")
        #expect(try ratio.trainingDifference(from: lamol) == "method.sample_ratio: 0.2 → 0.5")
    }

    @Test(arguments: [
        ("nmae: x", "unknown key 'nmae'"),
        ("training: {epochz: 3}", "unknown key 'training.epochz'"),
        ("method: {name: ewc2}", "'method.name' 'ewc2' is not one of"),
        ("method: {prompting: both}", "'method.prompting' must be one of task, gen"),
        ("method: {name: finetune, sample_ratio: 0.2}", "unknown key 'method.sample_ratio'"),
        ("method: {name: ewc, ewc_lambda: .inf}", "'method.ewc_lambda' must be a finite number"),
        ("method: {name: l2kd, variant: sentence}", "'method.variant' must be one of word, seq, seq_soft"),
        ("method: {name: l2kd, teacher: {epoch: 2}}", "unknown key 'method.teacher.epoch'"),
        ("method: {name: l2kd, loss_combination: mean}", "'method.loss_combination' must be one of positions, sum"),
        ("training: {epochs: many}", "'training.epochs' must be an integer"),
        ("training: {epochs: 0}", "'training.epochs' must be in 1…10000"),
        ("training: {learning_rate: -1}", "'training.learning_rate' must be a finite number"),
        ("seed: -1", "'seed' must be in 0…"),
        ("evaluation: {decoding: beam}", "'evaluation.decoding' must be one of greedy, top_k"),
        ("name: ../escape", "must be a plain directory name"),
        ("- a\n- b", "must be a YAML mapping"),
    ])
    func errorsNameTheKey(yaml: String, message: String) {
        #expect { try RunConfig(yaml: yaml, source: "bad.yaml") } throws: { "\($0)".contains("bad.yaml") && "\($0)".contains(message) }
    }
}

@Suite struct ReportTests {
    @Test func reportShowsMatricesComparisonAndDefinitions() throws {
        let directory = NSTemporaryDirectory() + "report-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func write(_ method: String, _ matrix: [[Double]], extra: [String: Any] = [:]) throws {
            let path = "\(directory)/\(method)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            var results: [String: Any] = [
                "method": method, "model": "m", "seed": 1, "tasks": ["a", "b"], "task_metrics": ["em", "em"], "matrix": matrix,
                "baseline": [0, 0], "final_average": matrix.last!.reduce(0, +) / 2, "pseudo_samples": [],
                "seconds_training": 1, "seconds_evaluating": 1, "formulas": [],
            ]
            results.merge(extra) { $1 }
            try JSONSerialization.data(withJSONObject: results).write(to: URL(fileURLWithPath: path + "/results.json"))
        }
        try write("finetune", [[90, 0], [10, 80]])
        try write("multitask", [[85, 75]])
        try write("l2kd-word", [[92, 0], [70, 84]], extra: ["method_statistics": ["teachers": [
            ["task": "a", "score": 95.0, "answers": 10, "answers_equal_to_gold": 9], ["task": "b", "score": 88.0]]]])
        try write("slm", [[60, 0], [58, 70]], extra: ["method_statistics": [
            "retrieval": ["tasks": ["a", "b"], "confusion": [[9, 1], [0, 10]], "accuracy": [0.9, 1.0], "mode": "per_example"],
            "storage": ["parameters_per_task": 1000, "parameters_total": 2000]]])
        let report = try Report(runDirectories: ["\(directory)/finetune", "\(directory)/multitask", "\(directory)/l2kd-word", "\(directory)/slm"])
        let md = report.markdown()
        #expect(md.contains("| finetune | finetune | 45.0 | -80.0 |"))          // ACC (10+80)/2, BWT 10−90
        #expect(md.contains("| 35.0 |"))                                          // gap to multitask: 80 − 45
        #expect(md.contains("BWT = (1/(T−1)) Σ_{j<T} (R[T][j] − R[j][j])"))
        // L2KD's teachers beside the learner: teacher, learner right after the task (R[j][j]), at the end.
        #expect(md.contains("| a | 95.0 | 92.0 | 70.0 | 9 / 10 |") && md.contains("| b | 88.0 | 84.0 | 84.0 | — |"))
        // SLM's retrieval: the confusion matrix with each task's retrieval accuracy, and the storage.
        #expect(md.contains("| a | 9 | 1 | 90.0 |") && md.contains("| b | 0 | 10 | 100.0 |") && md.contains("2000 in all"))
        let html = report.html()
        #expect(html.contains("Teachers (L2KD)") && html.contains("Retrieval (SLM)"))
        #expect(html.contains("<svg") && html.contains("after a") && html.contains("<polyline"))
        #expect(html.contains(">untrained</text>"), "the HTML heatmap has the untrained row the Markdown has")
        #expect { try Report(runDirectories: ["/nonexistent"]) } throws: { "\($0)".contains("/nonexistent/results.json") }
    }
}

extension ReportTests {
    /// The report's content, read from its model: the group table with the best mean in bold, the
    /// untrained row in R, the training curves from log.jsonl, pseudo-sample examples (kept and
    /// discarded), final predictions, provenance and config; Markdown and HTML render the same blocks.
    @Test func theReportModelHoldsEverySection() throws {
        let directory = NSTemporaryDirectory() + "report-model-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (name, matrix) in [("lamol", [[90.0, 0.0], [60.0, 80.0]]), ("finetune", [[90.0, 0.0], [10.0, 80.0]])] {
            let path = "\(directory)/\(name)"
            try FileManager.default.createDirectory(atPath: path + "/samples", withIntermediateDirectories: true)
            let results: [String: Any] = [
                "method": name, "model": "m", "seed": 1, "tasks": ["a", "b"], "task_metrics": ["em", "em"], "matrix": matrix,
                "baseline": [5, 0], "final_average": matrix.last!.reduce(0, +) / 2, "pseudo_samples": [],
                "seconds_training": 1, "seconds_evaluating": 1, "formulas": [],
                "final_predictions": ["a": [["yes", "yes"], ["no", "yes"]], "b": [["x", "y"]]],
                "provenance": ["version": "0.3.0-dev", "commit": "abc1234", "date": "2026-12-02", "host": "h", "threads": 2, "blas": "OpenBLAS"],
                "few_shot": ["shots": 3, "tasks": ["sst"], "before": [50.0], "after": [62.5]],
                "method_statistics": ["mixture_of_experts": [
                    "growth": [["task": "a", "experts_per_layer": 2, "mixture_layers": 1, "parameters": 1000, "parameters_added": 200,
                                "active_parameters_per_token": 900, "forward_flops_per_token": 1800]],
                    "loads": [["after": "b", "tasks": ["a", "b"], "share": [[0.75, 0.25], [0.5, 0.5]]]]]],
            ]
            try JSONSerialization.data(withJSONObject: results).write(to: URL(fileURLWithPath: path + "/results.json"))
            try "name: \(name)\nseed: 1\nmethod: {name: \(name)}\n".write(toFile: path + "/config.yaml", atomically: true, encoding: .utf8)
            let log = (0..<6).map { "{\"step\": \($0 % 3), \"task\": \"\($0 < 3 ? "a" : "b")\", \"qa_loss\": \(3.0 - Double($0) * 0.3), \"lm_loss\": 1.5}" }
            try (log.joined(separator: "\n") + "\n").write(toFile: path + "/log.jsonl", atomically: true, encoding: .utf8)
            try "{\"source\": \"a\", \"text\": \"kept one\"}\n{\"source\": \"a\", \"text\": \"bad\\u0001|\", \"discarded\": \"no_ans\"}\n"
                .write(toFile: path + "/samples/b.jsonl", atomically: true, encoding: .utf8)
        }
        let report = try Report(runDirectories: ["\(directory)/lamol", "\(directory)/finetune"])
        let doc = report.document()
        let groups = try #require(doc.tables(under: "Methods compared (mean ± sd over seeds and task orders)").first)
        #expect(groups.rows.map { $0[0] } == ["lamol", "finetune"], "\(groups.rows)")
        #expect(groups.bold.contains([0, 2]) && !groups.bold.contains([1, 2]), "lamol's ACC (70) is the best")
        // A run stopped after its first stage (a failed sweep point) shows the rows it has.
        let partial = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(directory)/finetune/results.json"))) as! [String: Any]
        var stopped = partial
        stopped["matrix"] = [[90.0, 0.0]]
        try JSONSerialization.data(withJSONObject: stopped).write(to: URL(fileURLWithPath: "\(directory)/finetune/results.json"))
        let stoppedDoc = try Report(runDirectories: ["\(directory)/finetune"]).document()
        #expect(stoppedDoc.tables(under: "finetune — finetune").first?.rows.map { $0[0] } == ["untrained", "a"])
        try JSONSerialization.data(withJSONObject: partial).write(to: URL(fileURLWithPath: "\(directory)/finetune/results.json"))
        let lamol = doc.tables(under: "lamol — lamol")
        #expect(lamol.first?.rows.first == ["untrained", "5.0", "0.0"], "R with the untrained row first")
        let predictions = doc.tables(under: "Final predictions").first
        #expect(predictions?.rows.prefix(2).map { $0 } == [["a", "yes", "yes"], ["a", "no", "yes"]])
        let samples = try #require(doc.tables(under: "Pseudo-sample examples").first)
        #expect(samples.rows.map { $0[2] } == ["yes", "no (no_ans)"])
        #expect(doc.tables(under: "Few-shot").first?.rows == [["sst", "50.0", "62.5", "+12.5"]])
        let moe = doc.tables(under: "Mixture of experts")
        #expect(moe.first?.rows == [["a", "2", "1", "1,000", "200", "900", "1,800"]])
        #expect(moe.last?.rows == [["a", "75.0", "25.0"], ["b", "50.0", "50.0"]], "router load in percent, task × expert")
        let figures = doc.blocks.compactMap { block -> String? in if case let .figure(_, caption) = block { return caption } else { return nil } }
        #expect(figures.filter { $0.hasPrefix("Training curves") }.count == 2 && figures.contains { $0.hasPrefix("The router's load") })
        #expect(doc.blocks.contains(.list(["version 0.3.0-dev", "commit abc1234", "date 2026-12-02", "host h", "threads 2", "BLAS OpenBLAS"])))
        #expect(doc.blocks.contains(.code("name: lamol\nseed: 1\nmethod: {name: lamol}\n")))
        // The Markdown keeps a generated text on one line; both renderings carry every table.
        #expect(report.markdown().contains("| b | a | no (no_ans) | bad\u{FFFD}\\| |"))
        #expect(report.html().components(separatedBy: "<table>").count - 1 == doc.blocks.filter { if case .table = $0 { return true } else { return false } }.count)
    }
}

@Suite struct RunGroupsTests {
    /// Runs that differ only in seed form one group: mean and sample sd by hand; a method run with
    /// another setting is its own group, labelled by the key that differs; CSV and LaTeX carry them.
    /// Runs of one group in two task orders: tasks are matched by name, stages by position.
    @Test func perTaskCurvesOfAGroupWithTwoOrders() throws {
        let directory = NSTemporaryDirectory() + "orders-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func write(_ name: String, tasks: [String], matrix: [[Double]]) throws {
            let path = "\(directory)/\(name)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let results: [String: Any] = [
                "method": "finetune", "model": "m", "seed": 1, "tasks": tasks, "task_metrics": ["em", "em"], "matrix": matrix,
                "baseline": [0, 0], "final_average": 0, "pseudo_samples": [], "seconds_training": 1, "seconds_evaluating": 1, "formulas": [],
            ]
            try JSONSerialization.data(withJSONObject: results).write(to: URL(fileURLWithPath: path + "/results.json"))
            let config = try RunConfig(yaml: "name: \(name)\nstream: [\(tasks.joined(separator: ", "))]\nmethod: {name: finetune}", source: "x")
            try config.yaml.write(toFile: path + "/config.yaml", atomically: true, encoding: .utf8)
        }
        try write("ab", tasks: ["a", "b"], matrix: [[80, 0], [40, 60]])
        try write("ba", tasks: ["b", "a"], matrix: [[70, 0], [30, 90]])
        let report = try Report(runDirectories: ["\(directory)/ab", "\(directory)/ba"])
        let group = try #require(report.groups.groups.first)
        #expect(report.groups.groups.count == 1 && group.sharedOrder == nil)
        // a: after stage 1 only run ab had learnt it (80); after stage 2, 40 (ab) and 90 (ba). b: 70 (ba), then 60 and 30.
        #expect(group.taskCurves.map(\.task) == ["a", "b"])
        #expect(group.taskCurves[0].points == [RunGroups.Summary([80]), RunGroups.Summary([40, 90])])
        #expect(group.taskCurves[1].points == [RunGroups.Summary([70]), RunGroups.Summary([60, 30])])
        #expect(report.document().blocks.contains { if case let .figure(_, caption) = $0 { return caption.contains("Their task orders differ") } else { return false } })
    }

    @Test func groupsRunsBySettingsAndSummarisesOverSeeds() throws {
        let directory = NSTemporaryDirectory() + "groups-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func write(_ name: String, method: String, seed: Int, temperature: Double, matrix: [[Double]]) throws {
            let path = "\(directory)/\(name)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let results: [String: Any] = [
                "method": method, "model": "m", "seed": seed, "tasks": ["a", "b"], "task_metrics": ["em", "em"], "matrix": matrix,
                "baseline": [0, 0], "final_average": matrix.last!.reduce(0, +) / 2, "pseudo_samples": [],
                "seconds_training": 1, "seconds_evaluating": 1, "formulas": [],
            ]
            try JSONSerialization.data(withJSONObject: results).write(to: URL(fileURLWithPath: path + "/results.json"))
            let config = try RunConfig(yaml: "name: \(name)\nseed: \(seed)\nmethod: {name: l2kd, temperature: \(temperature)}", source: "x")
            try config.yaml.write(toFile: path + "/config.yaml", atomically: true, encoding: .utf8)
        }
        // ACC = mean of the last row: 50, 60, 70 → mean 60, sd 10; BWT = R[1][0] − R[0][0]: −40, −30, −20.
        try write("t2-1", method: "l2kd-word", seed: 1, temperature: 2, matrix: [[80, 0], [40, 60]])
        try write("t2-2", method: "l2kd-word", seed: 2, temperature: 2, matrix: [[80, 0], [50, 70]])
        try write("t2-3", method: "l2kd-word", seed: 3, temperature: 2, matrix: [[80, 0], [60, 80]])
        try write("t1-1", method: "l2kd-word", seed: 1, temperature: 1, matrix: [[90, 0], [80, 80]])
        let report = try Report(runDirectories: ["t2-1", "t2-2", "t2-3", "t1-1"].map { "\(directory)/\($0)" })
        let groups = report.groups.groups
        #expect(groups.map(\.label) == ["l2kd-word method.temperature=2.0", "l2kd-word method.temperature=1.0"])
        #expect(groups[0].summary(.acc) == RunGroups.Summary([50, 60, 70]))
        let acc = try #require(groups[0].summary(.acc)), bwt = try #require(groups[0].summary(.bwt))
        #expect(acc.mean == 60 && acc.sd == 10 && acc.n == 3)
        #expect(bwt.mean == -30 && bwt.sd == 10)
        #expect(groups[1].summary(.acc)?.sd == nil, "one run: no spread")
        // The average over the tasks seen so far: after task 1 R[0][0] = 80 in every run; after task 2 (40+60)/2, (50+70)/2, (60+80)/2.
        #expect(groups[0].averageSeenSoFar.map(\.mean) == [80, 60] && groups[0].averageSeenSoFar.map(\.sd) == [0, 10])
        #expect(report.html().contains("mean score over the tasks seen") && report.html().contains("<polygon"))
        // Per-task curves of the group: a after stage 1 is 80 in all runs, after stage 2 40/50/60; b from stage 2 on, 60/70/80.
        let curves = groups[0].taskCurves
        #expect(curves.map(\.task) == ["a", "b"])
        #expect(curves[0].points == [RunGroups.Summary([80, 80, 80]), RunGroups.Summary([40, 50, 60])])
        #expect(curves[1].points == [nil, RunGroups.Summary([60, 70, 80])] && curves[1].points[1]?.sd == 10)
        let captions = report.document().blocks.compactMap { block -> String? in if case let .figure(_, caption) = block { return caption } else { return nil } }
        #expect(captions.filter { $0.hasPrefix("Per-task scores of") } == ["Per-task scores of l2kd-word method.temperature=2.0 after every stage, mean over its 3 runs, shaded ± one sd."])
        let md = report.markdown()
        #expect(md.contains("| l2kd-word method.temperature=2.0 | 3 (1, 2, 3) | 60.0 ± 10.0 | -30.0 ± 10.0 |"))
        #expect(md.contains("| l2kd-word method.temperature=1.0 | 1 (1) | **80.0** | **-10.0** |"))
        let csv = report.groups.csv().split(separator: "\n")
        #expect(csv.count == 1 + 4 && csv[1].hasPrefix("l2kd-word method.temperature=2.0,t2-1,1,a b,50.0,-40.0,"))
        #expect(csv[1].hasSuffix(",80.0 0.0;40.0 60.0"))
        let tex = report.groups.latex()
        #expect(tex.contains("\\toprule") && tex.contains("l2kd-word method.temperature=2.0 & 3 & 60.0 $\\pm$ 10.0 & -30.0 $\\pm$ 10.0"))
        #expect(tex.contains("\\textbf{80.0}"))
    }
}
