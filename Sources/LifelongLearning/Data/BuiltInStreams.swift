import LifelongFormats

/// The built-in streams of ../shared/data/README.md.
public enum BuiltInStreams {
    public static let names = ["tiny", "intents", "textcls", "lamol5", "nlg", "corpora"]

    public static func sources(_ name: String) throws -> [String] {
        switch name {
        case "tiny": return ["sst", "clinc150:banking", "clinc150:travel", "mwsc"]
        case "intents": return ["banking", "credit_cards", "kitchen_and_dining", "home", "auto_and_commute",
                                "travel", "utility", "work", "small_talk", "meta"].map { "clinc150:\($0)" }
        case "textcls": return ["agnews", "sst", "trec", "subj", "mr"]
        case "lamol5": return ["sst", "qasrl", "woz", "squad", "wikisql"]
        case "nlg": return ["e2e", "rnnlg:restaurant", "rnnlg:hotel", "rnnlg:tv", "rnnlg:laptop"]
        case "corpora": return Corpora.names.map { "corpus:\($0)" }
        default: throw FormatError(file: name, "unknown stream; built in: \(names.joined(separator: ", "))")
        }
    }

    /// The stream's tasks, subsampled as the README describes (tiny: 48 train / 24 test per task;
    /// textcls: 2,000 / 500; corpora: 2,000 / 200 texts).
    public static func load(_ name: String, loader: DatasetLoader, seed: UInt64) throws -> [TaskData] {
        let tasks = try sources(name).map(loader.load)
        switch name {
        case "tiny": return tasks.map { $0.subsampled(train: 48, test: 24, seed: seed) }
        case "textcls": return tasks.map { $0.subsampled(train: 2000, test: 500, seed: seed) }
        case "corpora": return tasks.map { $0.subsampled(train: 2000, test: 200, seed: seed) }
        default: return tasks
        }
    }
}
