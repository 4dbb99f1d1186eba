import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

/// Every method's run exports: hf (read back by `--model` to the run model's logits: its backbone
/// for SLM, Mixtral for Lifelong-MoE), GGUF (dense models) and peft (SLM's adapters, every run's
/// predictions). scripts/export_check.py checks the same exports with transformers, peft, gguf.
@Suite struct ExportTests {
    static func train(_ method: String) throws -> String {
        let runs = NSTemporaryDirectory() + "export-\(method)-\(getpid())-\(UUID().uuidString.prefix(8))"
        let extra = method == "slm" ? ", separator: \"=\", slots_per_task: 2, rank: 2, retrieved_slots: 1, keys: {epochs: 1}" : ""
        let yaml = """
            name: run
            model: scratch
            scratch: {architecture: llama, hidden: 32, layers: 2, heads: 2, positions: 128}
            stream: synthetic
            subsample: {train: 12, test: 3}
            method: {name: \(method)\(extra)}
            training: {learning_rate: 1.0e-3, epochs: 1, tokens_per_batch: 256, max_length: 64}
            """
        var run = ConfiguredRun(try RunConfig(yaml: yaml, source: "inline"), runs: runs)
        run.report = { _ in }
        _ = try run.execute()
        return run.directory
    }

    @Test(arguments: MethodRegistry.names) func everyMethodsRunExports(method: String) throws {
        let directory = try Self.train(method)
        let root = (directory as NSString).deletingLastPathComponent
        defer { try? FileManager.default.removeItem(atPath: root) }
        let run = try RunExport(runDirectory: directory)
        let prompt = TokenBatch(rows: [Array(run.tokenizer.encode("3 + 4 =").prefix(6)) + [run.tokenizer.vocabularySize - 1]])
        let expected = noGrad { run.model.logits(prompt).scalars }

        try run.write(.huggingFace, to: root + "/hf")
        let (model, tokenizer) = try ModelSource(root + "/hf").decoderAndTokenizer()
        #expect(tokenizer.tokens == run.tokenizer.tokens && tokenizer.specialTokens == run.tokenizer.specialTokens)
        #expect(maxDifference(noGrad { model.logits(prompt).scalars }, expected) < 1e-5)
        #expect(model.modules(of: MixtureOfExperts.self).isEmpty == (method != "lifelong_moe"))
        // tokenizer.json does not say which token ends a text; the export's generation_config.json does.
        #expect(try ModelSource(root + "/hf").endOfTextTokens(tokenizer) == [run.endOfExample])
        try Data(#"{"eos_token_id": 100000000}"#.utf8).write(to: URL(fileURLWithPath: root + "/hf/generation_config.json"))
        #expect(throws: FormatError.self) { try ModelSource(root + "/hf").endOfTextTokens(tokenizer) }

        if method == "lifelong_moe" {
            #expect(throws: RequestError.self) { try run.write(.gguf, to: root + "/gguf") }
        } else {
            try run.write(.gguf, to: root + "/gguf", ggufStorage: .f32)
            let gguf = try ModelSource(root + "/gguf/model.gguf").decoderAndTokenizer()
            #expect(maxDifference(noGrad { gguf.0.logits(prompt).scalars }, expected) < 1e-5)
            #expect(gguf.1.encode("__ans__ 3") == run.tokenizer.encode("__ans__ 3"))
        }

        try run.write(.peft, to: root + "/peft")
        let tests = try ConfiguredRun.stream(of: run.config).map { ($0.name, $0.test.count) }
        for (task, count) in tests {
            let lines = try String(contentsOfFile: "\(root)/peft/predictions/\(task).jsonl", encoding: .utf8).split(separator: "\n")
            #expect(lines.count == count, "\(task)")
        }
        let slots = run.model.lowRankMixtureLayers
        #expect(slots.isEmpty == (method != "slm"))
        if let layer = slots.first {
            let adapter = try SafetensorsFile(path: "\(root)/peft/adapters/\(tests[0].0)/slot1/adapter_model.safetensors")
            let path = run.model.modules(of: LowRankMixtureLinear.self)[0].path
            #expect(try adapter.tensor("base_model.model.\(path).lora_A.weight").scalars == layer.a[1].scalars)
            #expect(try adapter.tensor("base_model.model.\(path).lora_B.weight").shape == [layer.outFeatures, layer.rank])
            #expect(FileManager.default.fileExists(atPath: root + "/peft/retrieval/keys.safetensors"))
        }
    }
}

private func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
}
