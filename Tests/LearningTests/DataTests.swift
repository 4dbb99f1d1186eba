import Foundation
import LifelongFormats
import LifelongLearning
import Testing

@Suite struct DataTests {
    /// ../shared/data beside the project (or $LIFELONG_DATA). Missing data is a failure with a
    /// message, not a skip: CI always has it.
    static let loader: DatasetLoader? = {
        let testFile = URL(fileURLWithPath: #filePath)
        let root = testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data").path
        return try? DatasetLoader(root: ProcessInfo.processInfo.environment["LIFELONG_DATA"] ?? root)
    }()

    // Counts from the files: 80/20 splits where there is no official one; CR and MPQA lose the 4
    // and 3 lines that carry a label but no text (3,771 → 3,016 / 755; 10,603 → 8,482 / 2,121).
    @Test(arguments: [
        ("sst", 6920, 1821, "positive"), ("clinc150:banking", 1500, 450, nil), ("banking77", 10003, 3080, nil),
        ("hwu64:alarm", nil, nil, nil), ("agnews", 6080, 1520, nil), ("trec", 5452, 500, nil), ("mr", 8529, 2133, nil),
        ("subj", 8000, 2000, nil), ("cr", 3016, 755, nil), ("mpqa", 8482, 2121, nil), ("mwsc", nil, nil, nil),
        ("snips", 13784, 700, "get weather"), ("squad", 974, 216, nil), ("qasrl", 7183, 7097, nil), ("woz", 2536, 1646, nil),
        ("wikisql", 6821, 1646, nil), ("e2e", 547, 630, nil), ("rnnlg:hotel", 3223, 1075, nil), ("rnnlg:laptop", 7944, 2649, nil),
    ] as [(String, Int?, Int?, String?)])
    func everyLoaderReadsTheSharedData(source: String, train: Int?, test: Int?, someAnswer: String?) throws {
        let loader = try #require(Self.loader, "../shared/data not found (set LIFELONG_DATA)")
        let task = try loader.load(source)
        if let train { #expect(task.train.count == train, "\(source) train") } else { #expect(task.train.count > 20) }
        if let test { #expect(task.test.count == test, "\(source) test") } else { #expect(task.test.count > 5) }
        #expect((task.train + task.test).allSatisfy { !$0.context.isEmpty && !$0.question.isEmpty })
        // WOZ turns that change nothing have the answer ";" — every other answer is non-empty text.
        #expect((task.train + task.test).allSatisfy { !$0.answers[0].isEmpty })
        if let someAnswer { #expect(task.train.contains { $0.answers == [someAnswer] }) }
    }

    @Test func castingFollowsTheConventions() throws {
        let loader = try #require(Self.loader)
        let banking = try loader.load("clinc150:banking")
        #expect(Set(banking.train.map { $0.answers[0] }).count == 15)
        #expect(banking.train.allSatisfy { !$0.answers[0].contains("_") && $0.question == "What is the intent?" })
        let mwsc = try loader.load("mwsc")
        let all = mwsc.train + mwsc.test
        #expect(all.count == 2 * 132 || all.count > 250)
        let trophy = try #require(all.first { $0.context.contains("trophy") && $0.context.contains("small") })
        #expect(trophy.answers == ["suitcase"] && trophy.question.hasSuffix(" suitcase or trophy?"))
        let trec = try loader.load("trec")
        #expect(trec.test.first { $0.context.hasPrefix("How far is it from Denver") }?.answers == ["number"])
    }

    @Test func structuredTasksFollowDecaNLP() throws {
        let loader = try #require(Self.loader)
        let woz = try loader.load("woz")
        let first = woz.train[0]  // "Are there any eritrean restaurants in town?" informs food
        #expect(first.answers == ["food: eritrean;"] && first.dialogue == "woz-train-0" && first.turn == 0)
        let requesting = try #require(woz.train.first { $0.context.hasPrefix("Could I get the address, phone number, and postcode of Yu Garden") })
        #expect(requesting.answers == ["; postcode, phone, address"] && requesting.turn == 3)
        #expect(woz.metric == .dsem && woz.subsampled(train: 30, test: 30, seed: 1).test.count >= 30)
        let dialogues = Set(woz.test.compactMap(\.dialogue)), kept = woz.subsampled(train: nil, test: 40, seed: 2).test
        #expect(dialogues.count == 400)
        for d in Set(kept.compactMap(\.dialogue)) {  // subsampling keeps whole dialogues
            #expect(kept.filter { $0.dialogue == d }.count == woz.test.filter { $0.dialogue == d }.count)
        }

        let wikisql = try loader.load("wikisql")
        let butler = try #require((wikisql.train + wikisql.test).first { $0.context.hasSuffix("-- What position does the player who played for Butler CC (KS) play?") })
        #expect(butler.answers == ["SELECT Position FROM table WHERE School/Club Team = Butler CC (KS)"])
        #expect(butler.context.hasPrefix("The table has columns Position, School/Club Team and key words SELECT"))
        let trainTables = Set(wikisql.train.map { $0.context.components(separatedBy: "-- ")[0] })
        #expect(!trainTables.isEmpty && wikisql.metric == .lfem)

        let squad = try loader.load("squad")
        #expect(Set(squad.train.map(\.context)).isDisjoint(with: squad.test.map(\.context)), "split by article")
        #expect(squad.test.allSatisfy { e in e.answers.allSatisfy { e.context.contains($0) } }, "answers are spans of the paragraph")

        let qasrl = try loader.load("qasrl")
        // Answers are spans of the sentence, except in 3 rows where the gold file has '?' for an accented letter.
        let spans = qasrl.train.allSatisfy { e in e.answers.allSatisfy { e.context.contains($0) || $0.contains("?") } }
        #expect(qasrl.train.contains { $0.answers.count > 1 } && spans)

        let e2e = try loader.load("e2e")
        #expect(e2e.train[0].context == "name[Alimentum], area[city centre], familyFriendly[no]" && e2e.train[0].answers.count >= 3)
        #expect(e2e.metric == .rougeL && e2e.train[0].question == "What is the natural language form?")
        let streams = try BuiltInStreams.sources("lamol5") + BuiltInStreams.sources("nlg")
        #expect(streams == ["sst", "qasrl", "woz", "squad", "wikisql", "e2e", "rnnlg:restaurant", "rnnlg:hotel", "rnnlg:tv", "rnnlg:laptop"])
    }

    @Test func badSourcesAndMissingFilesNameTheProblem() throws {
        let loader = try #require(Self.loader)
        #expect { try loader.load("clinc150:nosuchdomain") } throws: { "\($0)".contains("no domain 'nosuchdomain'") }
        #expect { try loader.load("imagenet") } throws: { "\($0)".contains("unknown data source") }
        #expect { try DatasetLoader(root: "/nonexistent").load("sst") } throws: { "\($0)".contains("/nonexistent/sst_binary/train_binary_sent.csv") }
    }

    @Test func taskDirectoryRoundTripAndLineNumbersInErrors() throws {
        let directory = NSTemporaryDirectory() + "task-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let task = TaskData(name: "demo", metric: .nf1,
                            train: [Example(id: "1", context: "c \"q\"\nline", question: "q?", answers: ["a", "b"])],
                            test: [Example(id: "2", context: "c2", question: "q2", answers: ["z"])])
        try TaskDirectory.write(task, to: directory)
        let read = try TaskDirectory.read(directory)
        #expect(read.name == "demo" && read.metric == .nf1 && read.train == task.train && read.test == task.test)

        try "{\"id\": \"1\", \"context\": \"c\", \"question\": \"q\", \"answers\": [\"a\"]}\n{\"id\": \"2\", \"context\": \"c\", \"question\": \"q\"}\n"
            .write(toFile: directory + "/train.jsonl", atomically: true, encoding: .utf8)
        #expect { try TaskDirectory.read(directory) } throws: { "\($0)".contains("train.jsonl:2: field 'answers'") }
        try "{\"metric\": \"bleu2\"}".write(toFile: directory + "/task.json", atomically: true, encoding: .utf8)
        #expect { try TaskDirectory.read(directory) } throws: { "\($0)".contains("field 'metric' must be one of") }
    }

    @Test func subsamplingIsSeeded() throws {
        let loader = try #require(Self.loader)
        let sst = try loader.load("sst")
        let a = sst.subsampled(train: 10, test: 5, seed: 3), b = sst.subsampled(train: 10, test: 5, seed: 3)
        #expect(a.train == b.train && a.train.count == 10 && a.test.count == 5)
        #expect(a.train != sst.subsampled(train: 10, test: 5, seed: 4).train)
    }
}
