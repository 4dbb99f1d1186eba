import Foundation
import LifelongFormats

/// The parts of a report read from a run directory besides `results.json`: the training curves
/// of `log.jsonl`, a few pseudo-samples of `samples/`, the final predictions, the provenance and
/// `config.yaml`. A file that is missing (a run copied without its log) leaves its part out.
struct RunFiles {
    let directory: String

    private func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    func add(to doc: inout ReportDocument, results r: StreamRunner.Results) {
        if let svg = trainingCurves() {
            doc.add(.figure(svg: svg, caption: "Training curves: every loss term of log.jsonl per optimiser step, the stages marked."))
        }
        let predictions = predictionRows(r)
        if !predictions.isEmpty {
            doc.add(.heading(level: 3, "Final predictions"))
            doc.add(.table(.init(header: ["task", "prediction", "gold"], rows: predictions)))
        }
        let samples = sampleRows()
        if !samples.isEmpty {
            doc.add(.heading(level: 3, "Pseudo-sample examples"))
            doc.add(.table(.init(header: ["for task", "of", "kept", "text"], rows: samples)))
        }
        doc.add(.heading(level: 3, "Provenance and config"))
        if let p = r.provenance {
            let model = p.modelFile.map { ["model file \($0)" + (p.modelSHA256.map { " (sha256 \($0))" } ?? "")] } ?? []
            doc.add(.list(["version \(p.version)", "commit \(p.commit)", "date \(p.date)", "host \(p.host)", "threads \(p.threads)", "BLAS \(p.blas)"] + model))
        } else {
            doc.add(.paragraph("No provenance in results.json (written by an older version)."))
        }
        if let config = try? UserFile.text(path("config.yaml")) { doc.add(.code(config)) }
    }

    /// The first three final predictions per task beside their gold answers.
    func predictionRows(_ r: StreamRunner.Results) -> [[String]] {
        r.tasks.flatMap { task in (r.finalPredictions?[task] ?? []).prefix(3).map { [task] + $0.prefix(2) } }
    }

    /// Two kept and two discarded pseudo-samples of each `samples/<task>.jsonl`.
    func sampleRows() -> [[String]] {
        let folder = path("samples")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".jsonl") }.sorted()
        return files.flatMap { file -> [[String]] in
            guard let text = try? UserFile.text((folder as NSString).appendingPathComponent(file)) else { return [] }
            var kept: [[String]] = [], discarded: [[String]] = []
            for line in text.split(separator: "\n") where kept.count < 2 || discarded.count < 2 {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let sample = object["text"] as? String else { continue }
                let row = [String(file.dropLast(6)), object["source"] as? String ?? "?",
                           (object["discarded"] as? String).map { "no (\($0))" } ?? "yes", String(sample.prefix(160))]
                if object["discarded"] == nil { if kept.count < 2 { kept.append(row) } } else if discarded.count < 2 { discarded.append(row) }
            }
            return kept + discarded
        }
    }

    /// One line per loss term over the run's optimiser steps (teachers' steps left out), with a
    /// mark where each stage starts; y from 0 to the largest value.
    func trainingCurves() -> String? {
        guard let log = try? UserFile.text(path("log.jsonl")) else { return nil }
        var terms: [String: [(step: Int, value: Double)]] = [:], order: [String] = [], stages: [(start: Int, task: String)] = []
        var step = 0
        for line in log.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let task = object["task"] as? String, !task.hasPrefix("teacher:"), object["step"] != nil else { continue }
            if stages.last?.task != task { stages.append((step, task)) }
            for (key, value) in object where key.hasSuffix("_loss") || key == "penalty" || key == "l2_penalty" {
                guard let number = value as? Double, number.isFinite, (0...StreamRunner.Results.largestValue).contains(number) else { continue }
                if terms[key] == nil { order.append(key); terms[key] = [] }
                terms[key]!.append((step, number))
            }
            step += 1
        }
        guard step > 1 else { return nil }
        let width = 720, height = 260, left = 56, bottom = 40, right = 150
        let plotW = width - left - right, plotH = height - bottom - 12
        let top = max(1e-9, terms.values.flatMap { $0.map(\.value) }.max() ?? 1)
        func x(_ i: Int) -> Int { left + i * plotW / max(1, step - 1) }
        func y(_ v: Double) -> Int { 12 + Int(Double(plotH) * (1 - v / top)) }
        var svg = "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' font-family='sans-serif' font-size='11'>"
        svg += "<line x1='\(left)' y1='\(y(0))' x2='\(left + plotW)' y2='\(y(0))' stroke='#999'/><line x1='\(left)' y1='\(y(0))' x2='\(left)' y2='\(y(top))' stroke='#999'/>"
        for k in 0...4 { let v = top * Double(k) / 4; svg += "<text x='\(left - 4)' y='\(y(v) + 4)' text-anchor='end'>\(String(format: "%.2f", v))</text>" }
        for (start, task) in stages {
            svg += "<line x1='\(x(start))' y1='\(y(0))' x2='\(x(start))' y2='\(y(top))' stroke='#ddd'/>"
            svg += "<text x='\(x(start) + 2)' y='\(height - 24)'>\(ReportDocument.escape(task))</text>"
        }
        svg += "<text x='\(left + plotW / 2)' y='\(height - 6)' text-anchor='middle'>optimiser step (stages from left to right)</text>"
        svg += "<text x='14' y='\(12 + plotH / 2)' text-anchor='middle' transform='rotate(-90 14 \(12 + plotH / 2))'>loss</text>"
        for (k, name) in order.enumerated() {
            let colour = Report.colours[k % Report.colours.count]
            // A term logged on some steps only (KD from stage 2 on) is drawn at the steps it has.
            svg += "<polyline points='\(terms[name]!.map { "\(x($0.step)),\(y($0.value))" }.joined(separator: " "))' fill='none' stroke='\(colour)' stroke-width='1.5'/>"
            svg += "<rect x='\(left + plotW + 12)' y='\(14 + k * 18)' width='12' height='12' fill='\(colour)'/>"
            svg += "<text x='\(left + plotW + 30)' y='\(24 + k * 18)'>\(ReportDocument.escape(name))</text>"
        }
        return svg + "</svg>"
    }
}
