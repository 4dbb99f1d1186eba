import Foundation
import LifelongFormats

/// Loaders for the public datasets in their original files (see ../shared/data/README.md for
/// provenance and licences), cast as context / question / answer following decaNLP where it has
/// a convention:
///
/// | source | context | question | answer | metric |
/// |---|---|---|---|---|
/// | sst | sentence | "Is this review negative or positive?" | negative / positive | EM |
/// | clinc150:DOMAIN, banking77, hwu64:SCENARIO, snips | utterance | "What is the intent?" | the intent in words | accuracy |
/// | agnews | title and description | "What is the topic?" | world / sports / business / science and technology | accuracy |
/// | trec | question | "What type of answer does the question ask for?" | description / entity / … | accuracy |
/// | mr, cr, mpqa | text | "Is this review negative or positive?" | negative / positive | accuracy |
/// | subj | sentence | "Is this sentence subjective or objective?" | subjective / objective | accuracy |
/// | mwsc | the sentence with one alternative | the question with it, plus " A or B?" | the right candidate | EM |
/// | squad (XQuAD-en) | paragraph | the question | the gold spans | nF1 |
/// | qasrl | sentence | the QA-SRL question | every annotated span | nF1 |
/// | woz | the user's utterance | "What is the change in state?" | "slot: value, …; requested, …" | dsEM |
/// | wikisql | "The table has columns … and key words …-- question" | "What is the translation from English to SQL?" | the query | lfEM |
/// | e2e, rnnlg:DOMAIN | the meaning representation | "What is the natural language form?" | every reference | ROUGE-L |
///
/// Datasets without an official split are split with a fixed seed, 80 % train / 20 % test: AG News
/// (test split only), MR, Subj, CR, MPQA, MWSC; by article for SQuAD, by table for WikiSQL.
public struct DatasetLoader {
    public let root: String

    /// `root` defaults to `$LIFELONG_DATA`, else `../shared/data` when it exists.
    public init(root: String? = nil) throws {
        if let root { self.root = root; return }
        if let env = ProcessInfo.processInfo.environment["LIFELONG_DATA"] { self.root = env; return }
        let shared = FileManager.default.currentDirectoryPath + "/../shared/data"
        guard FileManager.default.fileExists(atPath: shared) else {
            throw FormatError(file: shared, "no data directory: give it as `data:` in a run config, `--input` to `lifelong data`, or LIFELONG_DATA (the public datasets, see the README)")
        }
        self.root = (shared as NSString).standardizingPath
    }

    public static let sources = ["sst", "clinc150:DOMAIN", "banking77", "hwu64:SCENARIO", "snips", "agnews", "trec", "mr", "subj", "cr",
                                 "mpqa", "mwsc", "squad", "qasrl", "woz", "wikisql", "e2e", "rnnlg:DOMAIN", "corpus:NAME", "corpus:DIR"]

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
        case "snips": return try snips()
        case "squad": return try squad()
        case "qasrl": return try qasrl()
        case "woz": return try woz()
        case "wikisql": return try wikisql()
        case "e2e": return try e2e()
        case "rnnlg": return try rnnlg(domain: try require(argument, source))
        case "corpus": return try Corpora.load(try require(argument, source), loader: self)
        default: throw FormatError(file: source, "unknown data source; known: \(Self.sources.joined(separator: ", "))")
        }
    }

    func require(_ argument: String?, _ source: String) throws -> String {
        guard let argument, !argument.isEmpty else { throw FormatError(file: source, "needs a part after ':' (e.g. clinc150:banking)") }
        return argument
    }

    static let sentimentQuestion = "Is this review negative or positive?"
    static let intentQuestion = "What is the intent?"

    func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    /// A file's text: UTF-8, or Windows-1252 for the older corpora that use it (MR, Subj, TREC).
    func text(_ relative: String) throws -> String {
        let file = path(relative)
        guard let data = try? UserFile.data(file) else {
            throw FormatError.io(file: file, "cannot read (is the data directory \(root) right?)")
        }
        if let text = String(data: data, encoding: .utf8) { return text }
        if let text = String(data: data, encoding: .windowsCP1252) { return text }
        // UTF-8 with a few invalid sequences (SNIPS has emoji written as CESU-8 surrogate halves):
        // those become U+FFFD.
        return String(decoding: data, as: UTF8.self)
    }

    /// "card_arrival" → "card arrival".
    static func words(_ label: String) -> String { label.replacingOccurrences(of: "_", with: " ") }

    func splitEightyTwenty(_ name: String, _ all: [Example], metric: TaskMetric) -> TaskData {
        var shuffler = SeededShuffler(seed: 20_240_601)
        let shuffled = shuffler.shuffled(all)
        let cut = shuffled.count * 4 / 5
        return TaskData(name: name, metric: metric, train: Array(shuffled[..<cut]), test: Array(shuffled[cut...]))
    }

    /// 80 % of the groups (articles, tables) for training and 20 % for testing, so that no group
    /// is in both; the groups are shuffled with a fixed seed.
    func splitByGroup(_ name: String, _ all: [Example], group: (Example) -> String, metric: TaskMetric) -> TaskData {
        var order: [String] = [], seen = Set<String>()
        for e in all where seen.insert(group(e)).inserted { order.append(group(e)) }
        var shuffler = SeededShuffler(seed: 20_240_601)
        let testGroups = Set(shuffler.shuffled(order).prefix(order.count / 5))
        return TaskData(name: name, metric: metric, train: all.filter { !testGroups.contains(group($0)) },
                        test: all.filter { testGroups.contains(group($0)) })
    }

    /// A JSON file's top-level value.
    func json(_ relative: String) throws -> Any {
        try StrictJSON.object(Data(text(relative).utf8), file: path(relative))
    }
}
