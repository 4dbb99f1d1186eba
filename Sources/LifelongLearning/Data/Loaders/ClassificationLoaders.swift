import Foundation
import LifelongFormats

extension DatasetLoader {
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
        guard let domains = try json("clinc150/domains.json") as? [String: [String]] else {
            throw FormatError(file: domainsFile, "expected an object of domain → intents")
        }
        guard let intents = domains[domain] else {
            throw FormatError(file: domainsFile, "no domain '\(domain)'; domains: \(domains.keys.sorted().joined(separator: ", "))")
        }
        guard let data = try json("clinc150/data_full.json") as? [String: [[String]]] else {
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
    func labelledLines(_ file: String) throws -> [(String, String)] {
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
}

extension DatasetLoader {
    static let snipsIntents = ["AddToPlaylist", "BookRestaurant", "GetWeather", "PlayMusic", "RateBook", "SearchCreativeWork",
                               "SearchScreeningEvent"]

    /// "GetWeather" → "get weather".
    static func camelCaseWords(_ name: String) -> String {
        var words = ""
        for c in name {
            if c.isUppercase && !words.isEmpty { words.append(" ") }
            words.append(contentsOf: c.lowercased())
        }
        return words
    }

    /// SNIPS 2017: seven intents as one task; an utterance is the concatenation of its text spans
    /// (slot spans included). `GetWeather` → "get weather". Train: the `_full` files; test: validate.
    func snips() throws -> TaskData {
        func split(_ kind: String) throws -> [Example] {
            try Self.snipsIntents.flatMap { intent -> [Example] in
                let file = kind == "train" ? "snips/\(intent)/train_\(intent)_full.json" : "snips/\(intent)/validate_\(intent).json"
                guard let utterances = (try json(file) as? [String: Any])?[intent] as? [[String: Any]] else {
                    throw FormatError(file: path(file), "expected {\"\(intent)\": [{\"data\": [...]}, ...]}")
                }
                let label = Self.camelCaseWords(intent)
                return try utterances.enumerated().map { i, utterance in
                    guard let spans = utterance["data"] as? [[String: Any]] else {
                        throw FormatError(file: path(file), "utterance \(i) has no 'data' list")
                    }
                    let text = try spans.map { span -> String in
                        guard let t = span["text"] as? String else { throw FormatError(file: path(file), "utterance \(i): a span without 'text'") }
                        return t
                    }.joined()
                    return Example(id: "snips-\(intent)-\(kind)-\(i)", context: text.trimmingCharacters(in: .whitespaces),
                                   question: Self.intentQuestion, answers: [label])
                }
            }
        }
        return TaskData(name: "snips", metric: .accuracy, train: try split("train"), test: try split("test"))
    }
}
