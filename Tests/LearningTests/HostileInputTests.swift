import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

/// Configs and task files that once crashed, hung or were silently accepted (found by the fuzz
/// harness in scripts/fuzz): each is now refused naming the file and the key, or handled as
/// documented.
@Suite final class HostileInputTests {
    let directory: String = {
        let path = NSTemporaryDirectory() + "hostile-input-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// A runs directory that is a file: the lock's directory cannot be made, and the error says why
    /// in words (Foundation alone says "NSCocoaErrorDomain error 512").
    @Test func aRunDirectoryUnderAFileIsExplainedInWords() throws {
        let file = directory + "/runs"
        try Data().write(to: URL(fileURLWithPath: file))
        #expect { try RunDirectoryLock(runDirectory: file + "/name") } throws: {
            describeFileError($0) == "\(file) is a file, not a directory"
        }
    }

    /// Nine lines of nested aliases would expand to 387M values (minutes, 18 GB in Yams); refused at once.
    @Test func anAliasBombIsRefusedQuickly() {
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "bcdefghi".map { c in
            let previous = Character(UnicodeScalar(c.asciiValue! - 1))
            return "\(c): &\(c) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]\n"
        }.joined()
        let start = Date()
        #expect { try RunConfig(yaml: bomb, source: "bomb.yaml") } throws: { "\($0)".contains("bomb.yaml") && "\($0)".contains("expands to more than") }
        #expect(Date().timeIntervalSince(start) < 5)
    }

    @Test func aMappingAsAKeyIsAnErrorNotATrap() {
        #expect { try RunConfig(yaml: "? [a, b]\n: 1\n", source: "c.yaml") } throws: { "\($0)".contains("c.yaml") && "\($0)".contains("not a plain scalar") }
    }

    @Test func overridesAreNamedInTheirErrors() {
        #expect { try RunConfig(yaml: "name: x\n", overrides: ["training..epochs=1"], source: "c.yaml") } throws: {
            "\($0)".contains("training..epochs=1") && "\($0)".contains("empty part")
        }
        #expect { try RunConfig(yaml: "name: x\n", overrides: ["training.epochs=.nan"], source: "c.yaml") } throws: {
            "\($0)".contains("c.yaml (set: training.epochs=.nan)") && "\($0)".contains("'training.epochs' must be an integer")
        }
    }

    func taskDirectory(_ name: String, taskJSON: String? = nil, train: String? = nil, test: String? = nil) throws -> String {
        let path = "\(directory)/\(name)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let line = #"{"context": "a good movie", "question": "sentiment?", "answers": ["positive"]}"#
        try (train ?? line).write(toFile: path + "/train.jsonl", atomically: true, encoding: .utf8)
        try (test ?? line).write(toFile: path + "/test.jsonl", atomically: true, encoding: .utf8)
        if let taskJSON { try taskJSON.write(toFile: path + "/task.json", atomically: true, encoding: .utf8) }
        return path
    }

    @Test func taskFilesThatWereAcceptedSilentlyAreRefused() throws {
        let cases: [(String, String?, String?, String?, String)] = [
            ("empty-test", nil, nil, "\n  \n", "test.jsonl: holds no examples"),
            ("escape", #"{"name": "../../x"}"#, nil, nil, "task.json: field 'name'"),
            ("special", #"{"name": "__ans__"}"#, nil, nil, "contains '__'"),
            ("nll", #"{"metric": "nll"}"#, nil, nil, "nll scores text corpora"),
            ("list-id", nil, #"{"id": [5], "context": "c", "question": "q", "answers": ["a"]}"#, nil, "train.jsonl:1: field 'id' must be a string"),
            ("bool-turn", nil, #"{"turn": true, "context": "c", "question": "q", "answers": ["a"]}"#, nil, "field 'turn' must be an integer"),
            ("empty-answer", nil, #"{"context": "c", "question": "q", "answers": [""]}"#, nil, "non-empty strings"),
        ]
        for (name, info, train, test, message) in cases {
            let path = try taskDirectory(name, taskJSON: info, train: train, test: test)
            #expect { try TaskDirectory.read(path) } throws: { "\($0)".contains(message) }
        }
    }

    /// A 20,000-word answer against max_length 64: the training answer is cut to half of
    /// max_length and evaluation's budget keeps half for the prompt; nothing exceeds the model.
    @Test func anAnswerLongerThanMaxLengthIsCutNotACrash() throws {
        let long = Example(id: "1", context: "a movie", question: "review?", answers: [String(repeating: "word ", count: 20_000)])
        let short = Example(id: "2", context: "a movie", question: "sentiment?", answers: ["good"])
        let task = TaskData(name: "long", metric: .em, train: [long, short], test: [long, short])
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        let model = DecoderLM(config: DecoderConfig(architecture: .gpt2, vocabSize: 257, hiddenSize: 16, layerCount: 1, headCount: 2, maxPositions: 128), seed: 1)
        var settings = TrainingSettings()
        settings.maxLength = 64; settings.epochs = 1
        var method = Finetune()
        let results = try StreamRunner(settings: settings, seed: 1, runDirectory: nil)
            .run(&method, stream: [task], model: model, tokenizer: tokenizer, modelName: "m")
        #expect(results.matrix.count == 1)
    }

    /// A GPT-2 model has only its learned positions: max_length is cut to them, and a model with
    /// fewer than 8 is refused with the numbers.
    @Test func maxLengthFollowsTheModelsPositions() throws {
        let task = SyntheticTasks.addition(train: 4, test: 2, seed: 1)
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        func run(positions: Int) throws -> StreamRunner.Results {
            let model = DecoderLM(config: DecoderConfig(architecture: .gpt2, vocabSize: 257, hiddenSize: 16, layerCount: 1, headCount: 2, maxPositions: positions), seed: 1)
            var method = Finetune(), settings = TrainingSettings()
            settings.epochs = 1
            return try StreamRunner(settings: settings, seed: 1, runDirectory: nil).run(&method, stream: [task], model: model, tokenizer: tokenizer, modelName: "m")
        }
        #expect { try run(positions: 2) } throws: { "\($0)".contains("has 2 positions; a run needs at least 8") }
        #expect(try run(positions: 24).matrix.count == 1)
    }
}
