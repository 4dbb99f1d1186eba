import Foundation
import LifelongFormats

extension DatasetLoader {
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
}

extension DatasetLoader {
    /// SQuAD v1.1 (the English XQuAD subset): one example per question, every gold span an answer.
    /// Split 80/20 by article, so that no paragraph is in both splits.
    func squad() throws -> TaskData {
        let file = "squad_v1.1_xquad_en/xquad.en.json"
        guard let articles = (try json(file) as? [String: Any])?["data"] as? [[String: Any]] else {
            throw FormatError(file: path(file), "expected {\"data\": [articles]}")
        }
        var examples: [Example] = [], articleOf: [String: String] = [:]
        for (a, article) in articles.enumerated() {
            guard let paragraphs = article["paragraphs"] as? [[String: Any]] else { throw FormatError(file: path(file), "article \(a) has no 'paragraphs'") }
            for (p, paragraph) in paragraphs.enumerated() {
                guard let context = paragraph["context"] as? String, let questions = paragraph["qas"] as? [[String: Any]] else {
                    throw FormatError(file: path(file), "article \(a), paragraph \(p): needs 'context' and 'qas'")
                }
                for (q, qa) in questions.enumerated() {
                    let answers = (qa["answers"] as? [[String: Any]])?.compactMap { $0["text"] as? String } ?? []
                    guard let question = qa["question"] as? String, !answers.isEmpty else {
                        throw FormatError(file: path(file), "article \(a), paragraph \(p), question \(q): needs 'question' and answers")
                    }
                    let id = (qa["id"] as? String) ?? "squad-\(a)-\(p)-\(q)"
                    articleOf[id] = "\(a)"
                    examples.append(Example(id: id, context: context, question: question, answers: answers))
                }
            }
        }
        return splitByGroup("squad", examples, group: { articleOf[$0.id]! }, metric: .nf1)
    }

    /// QA-SRL Gold Standard: one example per (sentence, verb, question), answered by every span any
    /// annotator gave (spans of a row are separated by `~!~`). The dev files train, the test files test.
    func qasrl() throws -> TaskData {
        func split(_ kind: String) throws -> [Example] {
            var examples: [Example] = [], index: [String: Int] = [:]
            for domain in ["wikinews", "wikipedia"] {
                let sentencesFile = "qasrl_gs/sentences/\(domain).\(kind).full.csv", goldFile = "qasrl_gs/gold/\(domain).\(kind).gold.csv"
                var sentences: [String: String] = [:]
                for r in try CSV.records(text(sentencesFile), file: path(sentencesFile), required: ["qasrl_id", "sentence"]) {
                    sentences[r["qasrl_id"]!] = r["sentence"]!
                }
                for (i, r) in try CSV.records(text(goldFile), file: path(goldFile), required: ["qasrl_id", "verb_idx", "question", "answer"]).enumerated() {
                    guard let sentence = sentences[r["qasrl_id"]!] else {
                        throw FormatError(file: "\(path(goldFile)):\(i + 2)", "sentence '\(r["qasrl_id"]!)' is not in \(sentencesFile)")
                    }
                    let spans = r["answer"]!.components(separatedBy: "~!~").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                    let key = "\(r["qasrl_id"]!)|\(r["verb_idx"]!)|\(r["question"]!)"
                    if let at = index[key] {
                        examples[at].answers += spans.filter { !examples[at].answers.contains($0) }
                    } else if !spans.isEmpty {
                        index[key] = examples.count
                        examples.append(Example(id: "qasrl-\(kind)-\(examples.count)", context: sentence, question: r["question"]!, answers: spans))
                    }
                }
            }
            return examples
        }
        return TaskData(name: "qasrl", metric: .nf1, train: try split("dev"), test: try split("test"))
    }

    /// WOZ 2.0: one example per user turn; the answer lists what the turn informs ("slot: value",
    /// joined by ", "), then "; ", then the slots it requests. Each example carries its dialogue and
    /// turn for dsEM. Splits: train / validate / test as published.
    func woz() throws -> TaskData {
        func split(_ kind: String) throws -> [Example] {
            let file = "woz2/woz_\(kind)_en.json"
            guard let dialogues = try json(file) as? [[String: Any]] else { throw FormatError(file: path(file), "expected a list of dialogues") }
            return try dialogues.enumerated().flatMap { d, dialogue -> [Example] in
                guard let turns = dialogue["dialogue"] as? [[String: Any]] else { throw FormatError(file: path(file), "dialogue \(d) has no 'dialogue' list") }
                let dialogueId = "woz-\(kind)-\((dialogue["dialogue_idx"] as? Int) ?? d)"
                return try turns.enumerated().map { t, turn in
                    guard let transcript = turn["transcript"] as? String, let labels = turn["turn_label"] as? [[String]],
                          labels.allSatisfy({ $0.count == 2 }) else {
                        throw FormatError(file: path(file), "dialogue \(d), turn \(t): needs 'transcript' and 'turn_label' [[slot, value]]")
                    }
                    let informs = labels.filter { $0[0] != "request" }.map { "\($0[0]): \($0[1])" }
                    let requests = labels.filter { $0[0] == "request" }.map { $0[1] }
                    let answer = (informs.joined(separator: ", ") + "; " + requests.joined(separator: ", ")).trimmingCharacters(in: .whitespaces)
                    return Example(id: "\(dialogueId)-\(t)", context: transcript, question: "What is the change in state?", answers: [answer],
                                   dialogue: dialogueId, turn: (turn["turn_idx"] as? Int) ?? t)
                }
            }
        }
        return TaskData(name: "woz", metric: .dsem, train: try split("train"), dev: try split("validate"), test: try split("test"))
    }

    static let sqlKeywords = "SELECT, FROM, WHERE, AND, COUNT, MIN, MAX, SUM, AVG, =, >, <"

    /// WikiSQL (v2 dev questions): the answer is the query in decaNLP's plain form,
    /// "SELECT [AGG] column FROM table [WHERE column op value AND …]". The table headers are not in
    /// these files, so the context names only the columns the query uses (sorted, so that their
    /// order gives nothing away). Split 80/20 by table.
    func wikisql() throws -> TaskData {
        let file = "wikisql_v2/dev.jsonl"
        var examples: [Example] = [], tableOf: [String: String] = [:]
        for (i, line) in try text(file).split(separator: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let where_ = "\(path(file)):\(i + 1)"
            guard let row = try StrictJSON.object(Data(line.utf8), file: path(file), firstLine: i + 1) as? [String: Any],
                  let question = row["question"] as? String, let table = row["table_id"] as? String,
                  let sql = row["sql"] as? [String: Any], let select = sql["sel"] as? String,
                  let conditions = sql["conds"] as? [[Any]] else {
                throw FormatError(file: where_, "expected question, table_id and sql {sel, conds, agg}")
            }
            let parsed = try conditions.map { c -> (String, String, String) in
                guard c.count == 3, let column = c[0] as? String, let op = c[1] as? String else {
                    throw FormatError(file: where_, "a condition must be [column, operator, value]")
                }
                return (column, op, (c[2] as? String) ?? (c[2] as? NSNumber)?.stringValue ?? "\(c[2])")
            }
            let aggregate = (sql["agg"] as? String) ?? ""
            var query = "SELECT " + (aggregate.isEmpty ? "" : aggregate + " ") + select + " FROM table"
            if !parsed.isEmpty { query += " WHERE " + parsed.map { "\($0.0) \($0.1) \($0.2)" }.joined(separator: " AND ") }
            let columns = Array(Set([select] + parsed.map(\.0))).sorted()
            let id = "wikisql-\(i)"
            tableOf[id] = table
            examples.append(Example(id: id, context: "The table has columns \(columns.joined(separator: ", ")) and key words \(Self.sqlKeywords)-- \(question)",
                                    question: "What is the translation from English to SQL?", answers: [query]))
        }
        return splitByGroup("wikisql", examples, group: { tableOf[$0.id]! }, metric: .lfem)
    }
}
