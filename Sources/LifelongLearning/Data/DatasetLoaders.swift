import Foundation
import LifelongFormats

/// Loaders for the public datasets in their original files (see ../shared/data/README.md for
/// provenance and licences), cast as context / question / answer following decaNLP where it has
/// a convention:
///
/// | source | context | question | answer |
/// |---|---|---|---|
/// | sst | sentence | "Is this review negative or positive?" | negative / positive |
/// | clinc150:DOMAIN, banking77, hwu64:SCENARIO | utterance | "What is the intent?" | the intent in words |
/// | agnews | title and description | "What is the topic?" | world / sports / business / science and technology |
/// | trec | question | "What type of answer does the question ask for?" | description / entity / abbreviation / human / location / number |
/// | mr, cr, mpqa | text | "Is this review negative or positive?" | negative / positive |
/// | subj | sentence | "Is this sentence subjective or objective?" | subjective / objective |
/// | mwsc | the sentence with one alternative | the question with it, plus " A or B?" | the right candidate |
///
/// Datasets without an official split (AG News test only, MR, Subj, CR, MPQA, MWSC) are split
/// with a fixed seed: 80 % train, 20 % test.
public struct DatasetLoader {
    public let root: String

    /// `root` defaults to `$LIFELONG_DATA`, else `../shared/data` when it exists.
    public init(root: String? = nil) throws {
        if let root { self.root = root; return }
        if let env = ProcessInfo.processInfo.environment["LIFELONG_DATA"] { self.root = env; return }
        let shared = FileManager.default.currentDirectoryPath + "/../shared/data"
        guard FileManager.default.fileExists(atPath: shared) else {
            throw FormatError(file: shared, "no data directory: pass --data or set LIFELONG_DATA (the public datasets, see the README)")
        }
        self.root = (shared as NSString).standardizingPath
    }

    public static let sources = ["sst", "clinc150:DOMAIN", "banking77", "hwu64:SCENARIO", "agnews", "trec", "mr", "subj", "cr", "mpqa", "mwsc"]

    /// Loads a source by name, e.g. "sst", "clinc150:banking", "hwu64:alarm".
    public func load(_ source: String) throws -> TaskData {
        let parts = source.split(separator: ":", maxSplits: 1).map(String.init)
        let argument = parts.count > 1 ? parts[1] : nil
        switch parts[0] {
        case "sst": return try sst()
        case "clinc150": return try clinc150(domain: try require(argument, source))
        case "banking77": return try banking77()
        case "hwu64": return try hwu64(scenario: try require(argument, source))
        case "agnews": return try agNews()
        case "trec": return try trec()
        case "mr": return try kimAll("mr", "rt-polarity.all", question: Self.sentimentQuestion, labels: ["negative", "positive"])
        case "cr": return try kimAll("cr", "custrev.all", question: Self.sentimentQuestion, labels: ["negative", "positive"])
        case "mpqa": return try kimAll("mpqa", "mpqa.all", question: Self.sentimentQuestion, labels: ["negative", "positive"])
        case "subj": return try kimAll("subj", "subj.all", question: "Is this sentence subjective or objective?", labels: ["subjective", "objective"])
        case "mwsc": return try mwsc()
        default: throw FormatError(file: source, "unknown data source; known: \(Self.sources.joined(separator: ", "))")
        }
    }

    private func require(_ argument: String?, _ source: String) throws -> String {
        guard let argument, !argument.isEmpty else { throw FormatError(file: source, "needs a part after ':' (e.g. clinc150:banking)") }
        return argument
    }

    static let sentimentQuestion = "Is this review negative or positive?"
    static let intentQuestion = "What is the intent?"

    private func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    /// A file's text: UTF-8, or Windows-1252 for the older corpora that use it (MR, Subj, TREC).
    private func text(_ relative: String) throws -> String {
        let file = path(relative)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw FormatError(file: file, "cannot read (is the data directory \(root) right?)")
        }
        if let text = String(data: data, encoding: .utf8) { return text }
        guard let text = String(data: data, encoding: .windowsCP1252) else { throw FormatError(file: file, "neither UTF-8 nor Windows-1252 text") }
        return text
    }

    /// "card_arrival" → "card arrival".
    static func words(_ label: String) -> String { label.replacingOccurrences(of: "_", with: " ") }

    func sst() throws -> TaskData {
        func split(_ name: String) throws -> [Example] {
            let file = "sst_binary/\(name)_binary_sent.csv"
            return try CSV.records(text(file), file: path(file), required: ["label", "sentence"]).enumerated().map { i, r in
                guard let label = ["0": "negative", "1": "positive"][r["label"]!] else {
                    throw FormatError(file: "\(path(file)):\(i + 2)", "label '\(r["label"]!)' is not 0 or 1")
                }
                return Example(id: "sst-\(name)-\(i)", context: r["sentence"]!, question: Self.sentimentQuestion, answers: [label])
            }
        }
        return TaskData(name: "sst", metric: .em, train: try split("train"), dev: try split("dev"), test: try split("test"))
    }

    func clinc150(domain: String) throws -> TaskData {
        let domainsFile = path("clinc150/domains.json"), dataFile = path("clinc150/data_full.json")
        guard let domains = (try? JSONSerialization.jsonObject(with: Data(text("clinc150/domains.json").utf8))) as? [String: [String]] else {
            throw FormatError(file: domainsFile, "expected an object of domain → intents")
        }
        guard let intents = domains[domain] else {
            throw FormatError(file: domainsFile, "no domain '\(domain)'; domains: \(domains.keys.sorted().joined(separator: ", "))")
        }
        guard let data = (try? JSONSerialization.jsonObject(with: Data(text("clinc150/data_full.json").utf8))) as? [String: [[String]]] else {
            throw FormatError(file: dataFile, "expected an object of split → [[text, intent]]")
        }
        let wanted = Set(intents)
        func split(_ name: String) throws -> [Example] {
            guard let rows = data[name] else { throw FormatError(file: dataFile, "no split '\(name)'") }
            return rows.enumerated().compactMap { i, row in
                guard row.count == 2, wanted.contains(row[1]) else { return nil }
                return Example(id: "clinc-\(domain)-\(name)-\(i)", context: row[0], question: Self.intentQuestion, answers: [Self.words(row[1])])
            }
        }
        return TaskData(name: "clinc_\(domain)", metric: .accuracy, train: try split("train"), dev: try split("val"), test: try split("test"))
    }

    func banking77() throws -> TaskData {
        func split(_ name: String) throws -> [Example] {
            let file = "banking77/\(name).csv"
            return try CSV.records(text(file), file: path(file), required: ["text", "category"]).enumerated().map { i, r in
                Example(id: "banking77-\(name)-\(i)", context: r["text"]!, question: Self.intentQuestion, answers: [Self.words(r["category"]!)])
            }
        }
        return TaskData(name: "banking77", metric: .accuracy, train: try split("train"), test: try split("test"))
    }

    func hwu64(scenario: String) throws -> TaskData {
        func split(_ name: String) throws -> [Example] {
            let directory = path("hwu64/\(name)")
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { $0.hasPrefix(scenario + "_") && $0.hasSuffix(".csv") }.sorted() ?? []
            guard !files.isEmpty else { throw FormatError(file: directory, "no files for scenario '\(scenario)'") }
            return try files.flatMap { f in
                try CSV.records(text("hwu64/\(name)/\(f)"), separator: ";", file: "\(directory)/\(f)", required: ["intent", "answer_from_anno"])
                    .enumerated().map { i, r in
                        Example(id: "hwu64-\(f)-\(i)", context: r["answer_from_anno"]!, question: Self.intentQuestion, answers: [Self.words(r["intent"]!)])
                    }
            }
        }
        return TaskData(name: "hwu64_\(scenario)", metric: .accuracy, train: try split("train"), test: try split("test"))
    }

    func agNews() throws -> TaskData {
        let topics = ["1": "world", "2": "sports", "3": "business", "4": "science and technology"]
        let file = "ag_news/test.csv"
        let all = try CSV.records(text(file), file: path(file), required: ["label", "title", "description"]).enumerated().map { i, r in
            guard let topic = topics[r["label"]!] else { throw FormatError(file: "\(path(file)):\(i + 2)", "label '\(r["label"]!)' is not 1–4") }
            return Example(id: "agnews-\(i)", context: r["title"]! + ". " + r["description"]!, question: "What is the topic?", answers: [topic])
        }
        return splitEightyTwenty("agnews", all, metric: .accuracy)
    }

    func trec() throws -> TaskData {
        let types = ["description", "entity", "abbreviation", "human", "location", "number"]  // harvardnlp's label order
        func split(_ file: String, _ name: String) throws -> [Example] {
            try labelledLines(file).enumerated().map { i, pair in
                guard let label = Int(pair.0), types.indices.contains(label) else {
                    throw FormatError(file: "\(path("kim2014_sentence_classification/\(file)")):\(i + 1)", "label '\(pair.0)' is not 0–5")
                }
                return Example(id: "trec-\(name)-\(i)", context: pair.1, question: "What type of answer does the question ask for?", answers: [types[label]])
            }
        }
        return TaskData(name: "trec", metric: .accuracy, train: try split("TREC.train.all", "train"), test: try split("TREC.test.all", "test"))
    }

    func kimAll(_ name: String, _ file: String, question: String, labels: [String]) throws -> TaskData {
        let all = try labelledLines(file).enumerated().map { i, pair -> Example in
            guard let label = Int(pair.0), labels.indices.contains(label) else {
                throw FormatError(file: "\(path("kim2014_sentence_classification/\(file)")):\(i + 1)", "label '\(pair.0)' is not 0–\(labels.count - 1)")
            }
            return Example(id: "\(name)-\(i)", context: pair.1, question: question, answers: [labels[label]])
        }
        return splitEightyTwenty(name, all, metric: .accuracy)
    }

    /// "LABEL text" lines of the Kim (2014) files. A few lines of CR and MPQA hold a label and no
    /// text; they are dropped.
    private func labelledLines(_ file: String) throws -> [(String, String)] {
        try text("kim2014_sentence_classification/\(file)").split(separator: "\n").enumerated().compactMap { i, line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { return nil }
            guard let space = trimmed.firstIndex(of: " ") else {
                if Int(trimmed) != nil { return nil }  // a label with no text
                throw FormatError(file: "\(path("kim2014_sentence_classification/\(file)")):\(i + 1)", "expected 'LABEL text'")
            }
            return (String(trimmed[..<space]), trimmed[trimmed.index(after: space)...].trimmingCharacters(in: .whitespaces))
        }
    }

    /// decaNLP's MWSC: blocks of three lines (sentence with [a/b], question — with [a/b] or not —,
    /// candidates c1/c2); alternative a makes c1 right, alternative b makes c2 right.
    func mwsc() throws -> TaskData {
        let file = path("decanlp_mwsc/schema.txt")
        let lines = try text("decanlp_mwsc/schema.txt").components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var examples: [Example] = [], i = 0
        func alternatives(_ s: String) -> (String, String)? {
            guard let open = s.firstIndex(of: "["), let close = s.firstIndex(of: "]"), open < close else { return nil }
            let inside = s[s.index(after: open)..<close].split(separator: "/", maxSplits: 1)
            guard inside.count == 2 else { return nil }
            return (s.replacingCharacters(in: open...close, with: inside[0]), s.replacingCharacters(in: open...close, with: inside[1]))
        }
        while i < lines.count {
            if lines[i].isEmpty { i += 1; continue }
            guard i + 2 < lines.count, let sentence = alternatives(lines[i]) else {
                throw FormatError(file: "\(file):\(i + 1)", "expected a sentence with [a/b] alternatives, a question, then candidates")
            }
            let question = alternatives(lines[i + 1]) ?? (lines[i + 1], lines[i + 1])
            let candidates = lines[i + 2].split(separator: "/", maxSplits: 1).map(String.init)
            guard candidates.count == 2 else { throw FormatError(file: "\(file):\(i + 3)", "expected two candidates 'A/B'") }
            let choice = " \(candidates[0]) or \(candidates[1])?"
            examples.append(Example(id: "mwsc-\(i)-a", context: sentence.0, question: question.0 + choice, answers: [candidates[0]]))
            examples.append(Example(id: "mwsc-\(i)-b", context: sentence.1, question: question.1 + choice, answers: [candidates[1]]))
            i += 3
        }
        return splitEightyTwenty("mwsc", examples, metric: .em)
    }

    private func splitEightyTwenty(_ name: String, _ all: [Example], metric: TaskMetric) -> TaskData {
        var shuffler = SeededShuffler(seed: 20_240_601)
        let shuffled = shuffler.shuffled(all)
        let cut = shuffled.count * 4 / 5
        return TaskData(name: name, metric: metric, train: Array(shuffled[..<cut]), test: Array(shuffled[cut...]))
    }
}

/// The built-in streams of ../shared/data/README.md.
public enum BuiltInStreams {
    public static let names = ["tiny", "intents", "textcls"]

    public static func sources(_ name: String) throws -> [String] {
        switch name {
        case "tiny": return ["sst", "clinc150:banking", "clinc150:travel", "mwsc"]
        case "intents": return ["banking", "credit_cards", "kitchen_and_dining", "home", "auto_and_commute",
                                "travel", "utility", "work", "small_talk", "meta"].map { "clinc150:\($0)" }
        case "textcls": return ["agnews", "sst", "trec", "subj", "mr"]
        default: throw FormatError(file: name, "unknown stream; built in: \(names.joined(separator: ", "))")
        }
    }

    /// The stream's tasks, subsampled as the README describes (tiny: 48 train / 24 test per task;
    /// textcls: 2,000 / 500).
    public static func load(_ name: String, loader: DatasetLoader, seed: UInt64) throws -> [TaskData] {
        let tasks = try sources(name).map(loader.load)
        switch name {
        case "tiny": return tasks.map { $0.subsampled(train: 48, test: 24, seed: seed) }
        case "textcls": return tasks.map { $0.subsampled(train: 2000, test: 500, seed: seed) }
        default: return tasks
        }
    }
}
