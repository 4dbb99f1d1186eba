/// A method's own section of a run config (`method: {name: …, …}`): read strictly from the YAML
/// (unknown keys are errors naming them), written back with every value resolved, and turned into
/// the method. Adding a method is one file (the method and its config) plus one line below.
public protocol MethodConfig: Encodable, Sendable {
    /// The name the config gives (`lamol`, `replay`, `l2kd`, …).
    var name: String { get }
    /// Reads the keys of `section` this method knows (`name` is already read).
    init(name: String, section: ConfigSection) throws
    func makeMethod() -> any LifelongMethod
    /// Keys that change only how the trained model is evaluated (SLM's `oracle_task`), so that
    /// `lifelong evaluate` may set them on a finished run.
    static var evaluationKeys: Set<String> { get }
}

extension MethodConfig {
    public static var evaluationKeys: Set<String> { [] }
}

/// The methods a run config can name.
public enum MethodRegistry {
    public static let configs: [(name: String, type: any MethodConfig.Type)] = [
        ("finetune", Finetune.Config.self),
        ("multitask", Multitask.Config.self),
        ("lamol", LAMOL.Config.self),
        ("replay", LAMOL.Config.self),
        ("ewc", EWC.Config.self),
        ("l2kd", L2KD.Config.self),
        ("slm", SLM.Config.self),
        ("lifelong_moe", LifelongMoE.Config.self),
    ]

    public static var names: [String] { configs.map(\.name) }

    /// One method of each kind with its default settings, made once: what the questions below
    /// ask (their static hooks, their names).
    nonisolated(unsafe) static let defaultMethods: [(name: String, method: any LifelongMethod)] =
        configs.compactMap { entry in
            (try? entry.type.init(name: entry.name, section: ConfigSection([:], prefix: "method.", source: "defaults")).makeMethod())
                .map { (entry.name, $0) }
        }

    /// The report's tables of results written before they carried their own (`report_sections`):
    /// every method's report hook is asked, and each answers only to its own statistics.
    static func reportSections(_ results: StreamRunner.Results) -> [ReportSection] {
        defaultMethods.flatMap { type(of: $0.method).reportSections(results) }
    }

    /// The headline figures of an evaluation's method statistics, from whichever method made them.
    static func headlineFigures(_ statistics: [String: JSONValue]?) -> [(name: String, value: Double)] {
        guard let statistics else { return [] }
        return defaultMethods.flatMap { type(of: $0.method).headlineFigures(statistics) }
    }

    /// The names of the methods that learn streams of text corpora.
    static var corpusMethods: [String] {
        defaultMethods.filter(\.method.learnsCorpora).map(\.name)
    }

    /// Every method's artefact folders: a run started afresh clears them all, whichever method
    /// wrote them before.
    static var artefactFolders: [String] {
        Array(Set(defaultMethods.flatMap { type(of: $0.method).artefactFolders })).sorted()
    }

    /// Whether the method that wrote results without `trains_on_union` trains on the union of the tasks.
    static func trainsOnUnion(method name: String) -> Bool {
        defaultMethods.first { $0.method.name == name }?.method.trainsOnUnion ?? false
    }

    /// `ignoring`: keys the section may hold that this method does not know (see `RunConfig`).
    static func config(named name: String, section: ConfigSection, ignoring: Set<String> = []) throws -> any MethodConfig {
        guard let type = configs.first(where: { $0.name == name })?.type else {
            throw section.error("name", "'\(name)' is not one of \(names.joined(separator: ", "))")
        }
        let config = try type.init(name: name, section: section)
        try section.finish(ignoring: ignoring)
        return config
    }
}
