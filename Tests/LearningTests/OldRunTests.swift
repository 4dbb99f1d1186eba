import Foundation
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

/// Run directories written by the binary before the model layer was rebuilt (commit 68924e4, with
/// `lifelong run`; configs in each `config.yaml`): `old-moe` was stopped with Ctrl-C inside
/// Lifelong-MoE's third stage (a mixture of experts in its checkpoint, the snapshot in
/// `lifelong_moe/`), `old-slm` is a finished SLM run (low-rank mixtures on o_proj). Today's code
/// resumes, loads and reports them. (That the resumed MoE run ends bit-identical to the old
/// binary's uninterrupted run was checked by hand, on one machine: see issue 30's note.)
@Suite(.serialized) struct OldRunTests {
    /// A copy of the fixture run `name` in a fresh temporary folder (runs are written to).
    func copy(_ name: String) throws -> String {
        let target = NSTemporaryDirectory() + "old-runs-\(getpid())/\(name)"
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Bundle.module.resourcePath! + "/Fixtures/runs-68924e4/\(name)", toPath: target)
        return target
    }

    func config(of run: String) throws -> RunConfig {
        let path = run + "/config.yaml"
        return try RunConfig(yaml: try UserFile.text(path), source: path)
    }

    @Test func aRunStoppedMidStageResumes() throws {
        let run = try copy("old-moe")
        defer { try? FileManager.default.removeItem(atPath: (run as NSString).deletingLastPathComponent) }
        let stopped = try #require(try RunCheckpoints(runDirectory: run).latest())
        #expect(stopped.state.stage == 2 && stopped.state.stepsDone > 0, "the fixture stops inside the third stage")
        #expect(stopped.state.replacedLayers?.map(\.kind) == [MixtureOfExperts.kind])
        var resumed = ConfiguredRun(try config(of: run), directory: run)
        resumed.report = { _ in }
        let results = try resumed.execute(resume: true)
        #expect(results.matrix.count == 3 && results.complete == true)
        #expect(results.reportSections?.map(\.title) == ["Mixture of experts", "Router load"])
    }

    @Test func aFinishedRunLoadsSamplesAndReports() throws {
        let run = try copy("old-slm")
        defer { try? FileManager.default.removeItem(atPath: (run as NSString).deletingLastPathComponent) }
        let config = try config(of: run)
        let (model, base) = try ConfiguredRun.startingModel(of: config)
        let tokenizer = TaskTokenizer(base: base)
        let state = try RunCheckpoints(runDirectory: run).restoreLatest(into: model, tokenizer: tokenizer) { _ in }
        #expect(state.stage == 3)
        #expect(model.lowRankMixtureLayers.count == 1 && model.lowRankMixtureLayers[0].slotCount > 0, "the slots are rebuilt and loaded")
        let output = try model.generate(prompts: [tokenizer.encode("2 + 3 =")], options: GenerationOptions(maxNewTokens: 3))
        #expect(output[0].count <= 3)
        // results.json written before `report_sections` existed: the method's hook still reports it.
        let markdown = try Report(runDirectories: [run]).markdown()
        #expect(markdown.contains("### Retrieval (SLM)"))
    }
}
