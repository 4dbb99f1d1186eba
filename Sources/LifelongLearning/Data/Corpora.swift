import Foundation
import LifelongFormats

/// Text corpora for continual pretraining (Lifelong-MoE's setting): a corpus is a task whose
/// examples are plain texts (`Example.context`), trained with the LM loss and scored by the
/// held-out negative log-likelihood per token (`TaskMetric.nll`, lower is better).
///
/// Stream sources:
/// - `corpus:NAME`, one of the five distributions built from the shared data's raw text:
///
///   | name | texts | from |
///   |---|---|---|
///   | news | title and description | AG News |
///   | reviews | review sentences | SST, MR, CR |
///   | requests | assistant requests | CLINC150 (every domain), SNIPS, HWU64 (every scenario) |
///   | encyclopedic | sentences | XQuAD-en paragraphs (split into sentences), QA-SRL |
///   | descriptions | restaurant and hotel descriptions | E2E, RNNLG restaurant and hotel references |
///
///   Each source's own test split is the held-out split.
/// - `corpus:DIR` (a path: it contains `/`): a folder of `.txt` files (one text per non-empty
///   line) and `.jsonl` files (one `{"text": …}` per line); a `test/` subfolder of the same kind
///   is the held-out split, else a seeded 10 % of the texts is held out.
package enum Corpora {
    public static let names = ["news", "reviews", "requests", "encyclopedic", "descriptions"]

    public static func load(_ argument: String, loader: DatasetLoader) throws -> TaskData {
        if argument.contains("/") { return try folder(argument) }
        let sources: [String]
        switch argument {
        case "news": sources = ["agnews"]
        case "reviews": sources = ["sst", "mr", "cr"]
        case "requests": sources = try clincDomains(loader).map { "clinc150:\($0)" } + ["snips"] + hwuScenarios(loader).map { "hwu64:\($0)" }
        case "encyclopedic": sources = ["squad", "qasrl"]
        case "descriptions": sources = ["e2e", "rnnlg:restaurant", "rnnlg:hotel"]
        default: throw FormatError(file: "corpus:\(argument)", "unknown corpus; built in: \(names.joined(separator: ", ")), or a folder path")
        }
        let tasks = try sources.map(loader.load)
        // Each text once, and no held-out text among the training texts (sources overlap: SST and MR).
        let test = unique(tasks.flatMap { texts(of: $0.test, source: $0.name) }, excluding: [])
        let train = unique(tasks.flatMap { texts(of: $0.train, source: $0.name) }, excluding: Set(test))
        return corpus(argument, train: train, test: test)
    }

    /// The raw text of a source's examples: the reference sentences of NLG data, the sentences
    /// of QA paragraphs, the input text of classification data.
    static func texts(of examples: [Example], source: String) -> [String] {
        examples.flatMap { example -> [String] in
            if source.hasPrefix("e2e") || source.hasPrefix("rnnlg") { return example.answers }
            if source.hasPrefix("squad") { return sentences(example.context) }
            return [example.context]
        }.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The non-empty texts in order, each once, leaving out `excluded`.
    static func unique(_ texts: [String], excluding excluded: Set<String>) -> [String] {
        var seen = excluded
        return texts.filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    /// A paragraph cut after `.`, `!` or `?` followed by a space and a capital letter, except
    /// after a title or an initial (`Mr.`, `J.`).
    public static func sentences(_ paragraph: String) -> [String] {
        let abbreviations: Set<String> = ["Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Prof", "Gen", "Col", "Lt", "Mt", "No", "vs", "Inc", "Co"]
        var result: [String] = [], current = ""
        let characters = Array(paragraph)
        for (i, c) in characters.enumerated() {
            current.append(c)
            let word = current.dropLast().split(separator: " ").last.map(String.init) ?? ""
            let abbreviation = c == "." && (abbreviations.contains(word) || (word.count == 1 && word.first!.isUppercase))
            if ".!?".contains(c), !abbreviation, i + 2 < characters.count, characters[i + 1] == " ", characters[i + 2].isUppercase {
                result.append(current); current = ""
            }
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { result.append(current) }
        return result.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// A corpus task of `train` and held-out `test` texts.
    public static func corpus(_ name: String, train: [String], test: [String]) -> TaskData {
        func examples(_ texts: [String], _ split: String) -> [Example] {
            texts.enumerated().map { Example(id: "\(name)-\(split)-\($0.offset)", context: $0.element, question: "", answers: [""]) }
        }
        return TaskData(name: name, metric: .nll, train: examples(train, "train"), test: examples(test, "test"))
    }

    private static func clincDomains(_ loader: DatasetLoader) throws -> [String] {
        let file = (loader.root as NSString).appendingPathComponent("clinc150/domains.json")
        guard let data = try? UserFile.data(file),
              let domains = try StrictJSON.object(data, file: file) as? [String: Any] else {
            throw FormatError(file: file, "expected an object of domain → intents")
        }
        return domains.keys.sorted()
    }

    private static func hwuScenarios(_ loader: DatasetLoader) throws -> [String] {
        let directory = (loader.root as NSString).appendingPathComponent("hwu64/train")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw FormatError(file: directory, "missing: the HWU64 training files")
        }
        return Set(files.filter { $0.hasSuffix(".csv") }.compactMap { $0.split(separator: "_").first.map(String.init) }).sorted()
    }

    /// A folder of `.txt` / `.jsonl` files; its `test/` subfolder, or a seeded tenth, is held out.
    static func folder(_ path: String) throws -> TaskData {
        let name = ((path as NSString).standardizingPath as NSString).lastPathComponent
        let all = try folderTexts(path)
        guard !all.isEmpty else { throw FormatError(file: path, "no text: expected .txt or .jsonl files with at least one non-empty line") }
        let testFolder = (path as NSString).appendingPathComponent("test")
        if FileManager.default.fileExists(atPath: testFolder) {
            let test = try folderTexts(testFolder)
            guard !test.isEmpty else { throw FormatError(file: testFolder, "no text in the held-out folder") }
            return corpus(name, train: all, test: test)
        }
        guard all.count >= 10 else { throw FormatError(file: path, "\(all.count) texts: at least 10 are needed to hold a tenth out (or add a test/ folder)") }
        var shuffler = SeededShuffler(seed: 0)
        let shuffled = shuffler.shuffled(all), held = all.count / 10
        return corpus(name, train: Array(shuffled.dropFirst(held)), test: Array(shuffled.prefix(held)))
    }

    /// The texts of the folder's files (not of its subfolders), in file-name order.
    private static func folderTexts(_ path: String) throws -> [String] {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: path) else {
            throw FormatError(file: path, "not a readable folder")
        }
        var texts: [String] = []
        for file in files.sorted() where file.hasSuffix(".txt") || file.hasSuffix(".jsonl") {
            let full = (path as NSString).appendingPathComponent(file)
            guard let data = try? UserFile.data(full), let body = String(data: data, encoding: .utf8) else {
                throw FormatError(file: full, "not readable as UTF-8 text")
            }
            for (number, line) in body.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty else { continue }
                guard file.hasSuffix(".jsonl") else { texts.append(trimmed); continue }
                guard let object = try StrictJSON.object(Data(trimmed.utf8), file: full, firstLine: number + 1) as? [String: Any],
                      let text = object["text"] as? String else {
                    throw FormatError(file: "\(full):\(number + 1)", "expected a JSON object with a string \"text\"")
                }
                if !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { texts.append(text) }
            }
        }
        return texts
    }
}
