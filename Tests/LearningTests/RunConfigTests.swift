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
        #expect(config.method == "lamol" && config.prompting == .generic && config.sampleRatio == 0.2)
        #expect(config.training.learningRate == 1e-4 && config.training.epochs == 5)
        #expect(config.training.lmWeight == 0.25 && config.training.answerWeight == 5)  // LAMOL defaults kept
        // The resolved config parses back to the same values.
        let again = try RunConfig(yaml: config.yaml, source: "config.yaml")
        #expect(again.yaml == config.yaml)
    }

    @Test(arguments: [
        ("nmae: x", "unknown key 'nmae'"),
        ("training: {epochz: 3}", "unknown key 'training.epochz'"),
        ("method: {name: ewc2}", "method.name 'ewc2' is not one of"),
        ("method: {prompting: both}", "method.prompting must be 'task' or 'gen'"),
        ("training: {epochs: many}", "'training.epochs' must be an integer"),
        ("training: {epochs: 0}", "training.epochs must be at least 1"),
        ("evaluation: {decoding: beam}", "evaluation.decoding must be 'greedy' or 'top_k'"),
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
        func write(_ method: String, _ matrix: [[Double]]) throws {
            let path = "\(directory)/\(method)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let results: [String: Any] = [
                "method": method, "model": "m", "seed": 1, "tasks": ["a", "b"], "task_metrics": ["em", "em"], "matrix": matrix,
                "baseline": [0, 0], "final_average": matrix.last!.reduce(0, +) / 2, "pseudo_samples": [],
                "seconds_training": 1, "seconds_evaluating": 1, "formulas": [],
            ]
            try JSONSerialization.data(withJSONObject: results).write(to: URL(fileURLWithPath: path + "/results.json"))
        }
        try write("finetune", [[90, 0], [10, 80]])
        try write("multitask", [[85, 75]])
        let report = try Report(runDirectories: ["\(directory)/finetune", "\(directory)/multitask"])
        let md = report.markdown()
        #expect(md.contains("| finetune | finetune | 45.0 | -80.0 |"))          // ACC (10+80)/2, BWT 10−90
        #expect(md.contains("| 35.0 |"))                                          // gap to multitask: 80 − 45
        #expect(md.contains("BWT = (1/(T−1)) Σ_{j<T} (R[T][j] − R[j][j])"))
        let html = report.html()
        #expect(html.contains("<svg") && html.contains("after a") && html.contains("<polyline"))
        #expect { try Report(runDirectories: ["/nonexistent"]) } throws: { "\($0)".contains("/nonexistent/results.json") }
    }
}
