import Foundation
import LifelongFormats

extension DatasetLoader {
    static let nlgQuestion = "What is the natural language form?"

    /// E2E NLG: one example per meaning representation, answered by all of its references. The
    /// training split is not obtainable here: the dev set trains and the test set tests.
    func e2e() throws -> TaskData {
        func split(_ file: String, _ kind: String) throws -> [Example] {
            var examples: [Example] = [], index: [String: Int] = [:]
            for r in try CSV.records(text("e2e_nlg/\(file)"), file: path("e2e_nlg/\(file)"), required: ["mr", "ref"]) {
                if let at = index[r["mr"]!] {
                    examples[at].answers.append(r["ref"]!)
                } else {
                    index[r["mr"]!] = examples.count
                    examples.append(Example(id: "e2e-\(kind)-\(examples.count)", context: r["mr"]!, question: Self.nlgQuestion, answers: [r["ref"]!]))
                }
            }
            return examples
        }
        return TaskData(name: "e2e", metric: .rougeL, train: try split("devset.csv", "dev"), test: try split("testset_w_refs.csv", "test"))
    }

    /// RNNLG (Wen et al.) for one domain (restaurant, hotel, tv, laptop): files of a `#` comment
    /// header then a JSON list of [dialogue act, reference, reference…].
    func rnnlg(domain: String) throws -> TaskData {
        func split(_ kind: String) throws -> [Example] {
            let file = "rnnlg/\(domain)/\(kind).json"
            let body = try text(file).split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(separator: "\n")
            guard let entries = try StrictJSON.object(Data(body.utf8), file: path(file)) as? [[String]] else {
                throw FormatError(file: path(file), "expected a '#' header then a JSON list of [act, reference, ...]")
            }
            return try entries.enumerated().map { i, entry in
                guard entry.count >= 2 else { throw FormatError(file: path(file), "entry \(i) has no reference") }
                return Example(id: "rnnlg-\(domain)-\(kind)-\(i)", context: entry[0], question: Self.nlgQuestion, answers: Array(entry[1...]))
            }
        }
        return TaskData(name: "rnnlg_\(domain)", metric: .rougeL, train: try split("train"), dev: try split("valid"), test: try split("test"))
    }
}
