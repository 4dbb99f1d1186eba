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

    /// A run whose results.json is hostile (ragged R, a score of 1e19, counts too large for an
    /// integer, a trailing comma) is named as broken; the other runs are still reported. A folder of
    /// runs (a sweep's) is found by walking it.
    @Test func brokenRunsAreNamedAndTheOthersReported() throws {
        let directory = NSTemporaryDirectory() + "report-broken-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func write(_ name: String, _ text: String) throws {
            try FileManager.default.createDirectory(atPath: "\(directory)/sweep/\(name)", withIntermediateDirectories: true)
            try text.write(toFile: "\(directory)/sweep/\(name)/results.json", atomically: true, encoding: .utf8)
        }
        let good = #""method": "finetune", "model": "m", "seed": 1, "tasks": ["a", "b"], "task_metrics": ["em", "em"], "baseline": [0, 0], "final_average": 45, "pseudo_samples": [], "seconds_training": 1, "seconds_evaluating": 1, "formulas": []"#
        try write("good", "{\(good), \"matrix\": [[90, 0], [10, 80]]}")
        try write("ragged", "{\(good), \"matrix\": [[90, 0], [10]]}")
        try write("huge", "{\(good), \"matrix\": [[90, 0], [10, 1e19]]}")
        try write("trailing-comma", "{\(good), \"matrix\": [[90, 0], [10, 80]],}")
        try write("counts", "{\(good), \"matrix\": [[90, 0], [10, 80]], \"method_statistics\": {\"teachers\": [{\"task\": \"a\", \"score\": 1e300, \"answers\": 1e19, \"answers_equal_to_gold\": -3}]}}")
        let found = Report.runDirectories(under: "\(directory)/sweep")
        #expect(found.map { ($0 as NSString).lastPathComponent } == ["counts", "good", "huge", "ragged", "trailing-comma"])
        let report = try Report(runDirectories: found)
        #expect(report.runs.map { ($0.directory as NSString).lastPathComponent } == ["counts", "good"])
        let problems = report.broken.map(\.description)
        #expect(problems.contains { $0.contains("ragged/results.json") && $0.contains("'matrix' row 2 has 1 scores for 2 tasks") })
        #expect(problems.contains { $0.contains("huge/results.json") && $0.contains("not a finite number within") })
        #expect(problems.contains { $0.contains("trailing-comma/results.json: line 1") && $0.contains("trailing comma") })
        let md = report.markdown()
        #expect(md.contains("Runs that could not be read") && md.contains("| a | — | 90.0 | 10.0 | — |"), "1e300 and 1e19 are not shown as numbers")
        #expect { try Report(runDirectories: ["\(directory)/sweep/ragged"]) } throws: { "\($0)".contains("'matrix' row 2") }
    }

    /// groups.tex names each group by its method: every character LaTeX treats specially is escaped.
    @Test func groupsTexEscapesEveryCharacterLaTeXTreatsSpecially() throws {
        let directory = NSTemporaryDirectory() + "report-latex-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: "\(directory)/run", withIntermediateDirectories: true)
        let results = #"{"method": "a_b%c&d#e$f{g}h\\i^j~k", "model": "m", "seed": 1, "tasks": ["a"], "task_metrics": ["em"], "baseline": [0], "matrix": [[50]], "final_average": 50, "pseudo_samples": [], "seconds_training": 1, "seconds_evaluating": 1, "formulas": []}"#
        try results.write(toFile: "\(directory)/run/results.json", atomically: true, encoding: .utf8)
        let tex = try Report(runDirectories: ["\(directory)/run"]).groups.latex()
        #expect(tex.contains(##"a\_b\%c\&d\#e\$f\{g\}h\textbackslash{}i\textasciicircum{}j\textasciitilde{}k & 1"##), "\(tex)")
    }
}
