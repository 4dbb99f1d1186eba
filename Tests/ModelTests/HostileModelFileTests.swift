import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels
import Testing

/// Model files whose numbers lie: each is refused with an error naming the file and the key
/// before anything is allocated from those numbers (the fuzz harness, scripts/fuzz, tries
/// thousands of such files; these are the classes it found).
@Suite final class HostileModelFileTests {
    let directory: String = {
        let path = NSTemporaryDirectory() + "hostile-model-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// The tiny GPT-2 fixture with `edit` applied to its config.json.
    func gpt2(_ name: String = #function, edit: (inout [String: Any]) -> Void) throws -> String {
        let target = "\(directory)/\(name.filter(\.isLetter))"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixture.path("tiny-gpt2/model.safetensors"), toPath: target + "/model.safetensors")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixture.path("tiny-gpt2/config.json")))) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: target + "/config.json"))
        return target
    }

    func expectRefusal(_ directory: String, naming texts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try DecoderLM(huggingFaceDirectory: directory)
            Issue.record("expected an error naming \(texts)", sourceLocation: sourceLocation)
        } catch {
            for text in texts { #expect("\(error)".contains(text), "\(error)", sourceLocation: sourceLocation) }
        }
    }

    @Test(arguments: [
        ("n_embd", 1e20 as Any, "must be an integer"), ("n_layer", 4_294_967_295 as Any, "must be in 1…1024"),
        ("n_head", true as Any, "must be an integer"), ("vocab_size", 64.5 as Any, "must be an integer"),
        ("n_positions", -1 as Any, "must be in 1…1048576"), ("layer_norm_epsilon", -1 as Any, "must be a finite number"),
        ("tie_word_embeddings", 1 as Any, "must be true or false"),
    ])
    func sizesOutOfRangeOrOfAnotherTypeAreRefused(key: String, value: Any, message: String) throws {
        let model = try gpt2("\(key)") { $0[key] = value }
        expectRefusal(model, naming: ["config.json", "'\(key)'", message])
    }

    /// In range, yet more than the checkpoint holds: refused before the model is allocated.
    @Test func aConfigDescribingMoreThanTheFileHoldsIsRefused() throws {
        let model = try gpt2 { $0["n_layer"] = 1000; $0["n_embd"] = 4096; $0["n_head"] = 32 }
        expectRefusal(model, naming: ["config.json", "the file holds"])
    }

    @Test func aNonFiniteWeightIsRefusedAtLoad() throws {
        let model = try gpt2 { _ in }
        let file = try SafetensorsFile(path: model + "/model.safetensors")
        var tensors = try file.names.sorted().map { (name: $0, tensor: try file.tensor($0)) }
        tensors[0].tensor.data[3] = .nan
        try SafetensorsFile.write(tensors, to: model + "/model.safetensors")
        expectRefusal(model, naming: ["model.safetensors", "'\(tensors[0].name)'", "non-finite"])
    }

    /// Weights can be finite and still overflow; the logits are checked before every token.
    @Test func generationRefusesNonFiniteLogits() throws {
        let model = DecoderLM(config: DecoderConfig(architecture: .gpt2, vocabSize: 16, hiddenSize: 8, layerCount: 1, headCount: 2, maxPositions: 16), seed: 1)
        model.tokenEmbedding.weight.data[0] = .infinity
        #expect(throws: NonFiniteLogits.self) { try model.generate(prompts: [[0, 1]], options: GenerationOptions(maxNewTokens: 2)) }
    }

    @Test func tokenizerIdsOutOfRangeAreRefused() throws {
        func tokenizer(_ edit: (inout [String: Any]) -> Void, _ name: String) throws -> String {
            var json: [String: Any] = ["model": ["type": "BPE", "vocab": ["a": 0, "b": 1, "ab": 2], "merges": ["a b"]]]
            edit(&json)
            let path = "\(directory)/\(name).json"
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
            return path
        }
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("huge", { $0["model"] = ["type": "BPE", "vocab": ["a": Int.max], "merges": []] }, "must be an integer id"),
            ("far", { $0["model"] = ["type": "BPE", "vocab": ["a": 1 << 30], "merges": []] }, "outside 0..<4194304"),
            ("fraction", { $0["model"] = ["type": "BPE", "vocab": ["a": 1.5], "merges": []] }, "must be an integer id"),
            ("merges", { $0["model"] = ["type": "BPE", "vocab": ["a": 0], "merges": "a b"] }, "model.merges must be a list"),
            ("added", { $0["added_tokens"] = [["content": "<x>", "id": -1]] }, "outside"),
            ("pre", { $0["pre_tokenizer"] = 7 }, "pre_tokenizer must be an object"),
        ]
        for (name, edit, message) in cases {
            #expect { try ByteLevelBPETokenizer.huggingFace(tokenizerJSON: try tokenizer(edit, name)) } throws: {
                "\($0)".contains("\(name).json") && "\($0)".contains(message)
            }
        }
    }
}

/// Sizes from a config are checked against the machine's memory before the model is allocated.
@Suite struct MemoryLimitTests {
    @Test func aModelTooLargeToTrainIsRefusedWithTheEstimateAndTheLimit() throws {
        let huge = DecoderConfig(architecture: .gpt2, vocabSize: 50_000, hiddenSize: 8192, layerCount: 256, headCount: 16, maxPositions: 1024)
        #expect(huge.parameterCount > 200_000_000_000)
        #expect { try MemoryLimit.require(huge.trainingBytes, for: "training it", file: "scratch") } throws: {
            "\($0)".hasPrefix("scratch: training it needs about") && "\($0)".contains("GB of memory; this machine allows")
        }
        for small in [DecoderConfig(architecture: .llama, vocabSize: 300, hiddenSize: 32, layerCount: 2, headCount: 4, kvHeadCount: 2,
                                    intermediateSize: 64, tieWordEmbeddings: false),
                      DecoderConfig(architecture: .gpt2, vocabSize: 300, hiddenSize: 32, layerCount: 3, headCount: 4, maxPositions: 50)] {
            #expect(small.parameterCount == DecoderLM(config: small, seed: 1).parameterCount, "the count is exact (\(small.architecture))")
            try MemoryLimit.require(small.trainingBytes, for: "training it", file: "scratch")
        }
    }
}
