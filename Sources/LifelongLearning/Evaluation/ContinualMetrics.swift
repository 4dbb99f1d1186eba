/// Continual-learning metrics of a score matrix R (R[i][j]: score on task j after training task
/// i, tasks numbered from 0, T tasks), following Lopez-Paz & Ranzato (2017) and Chaudhry et al.
/// (2018). Each formula is written beside its property and in every report.
///
/// For scores where lower is better (the held-out NLL of text corpora, `lowerIsBetter`), every
/// formula is applied to the raw scores and the signs mean the opposite: ACC and LA are NLLs
/// (lower is better), BWT > 0 is forgetting (the NLL rose after learning later distributions),
/// FWT < 0 is positive transfer, and forgetting is the rise of the final NLL above the best
/// (lowest) earlier one, F = (1/(T−1)) Σ_{j<T−1} (R[T−1][j] − min_{l<T−1} R[l][j]), so that
/// forgetting > 0 means forgetting in both conventions.
public struct ContinualMetrics: Codable, Equatable, Sendable {
    /// ACC = (1/T) Σ_j R[T−1][j]: the average after the last task.
    public var acc: Double
    /// BWT = (1/(T−1)) Σ_{j<T−1} (R[T−1][j] − R[j][j]); negative means forgetting.
    public var bwt: Double?
    /// FWT = (1/(T−1)) Σ_{j≥1} (R[j−1][j] − b_j), b_j the untrained model's score on task j.
    public var fwt: Double?
    /// F = (1/(T−1)) Σ_{j<T−1} max_{l<T−1} (R[l][j] − R[T−1][j]) (Chaudhry: best earlier score minus final).
    public var forgetting: Double?
    /// LA = (1/T) Σ_j R[j][j]: each task's score right after learning it.
    public var learningAcc: Double
    /// The scores are NLLs (lower is better); nil for the usual scores.
    public var lowerIsBetter: Bool?

    enum CodingKeys: String, CodingKey {
        case acc, bwt, fwt, forgetting
        case learningAcc = "learning_acc", lowerIsBetter = "lower_is_better"
    }

    public static let formulas = [
        "ACC = (1/T) Σ_j R[T][j]",
        "BWT = (1/(T−1)) Σ_{j<T} (R[T][j] − R[j][j])",
        "FWT = (1/(T−1)) Σ_{j≥2} (R[j−1][j] − b_j), b_j = score of the untrained model",
        "Forgetting = (1/(T−1)) Σ_{j<T} max_{l<T} (R[l][j] − R[T][j])",
        "Learning accuracy = (1/T) Σ_j R[j][j]",
    ]

    /// The formulas for NLL matrices (lower is better), with what their signs mean.
    public static let lowerIsBetterFormulas = [
        "ACC = (1/T) Σ_j R[T][j] (the final mean NLL; lower is better)",
        "BWT = (1/(T−1)) Σ_{j<T} (R[T][j] − R[j][j]) (> 0: forgetting, the NLL rose)",
        "FWT = (1/(T−1)) Σ_{j≥2} (R[j−1][j] − b_j) (< 0: positive transfer)",
        "Forgetting = (1/(T−1)) Σ_{j<T} (R[T][j] − min_{l<T} R[l][j]) (> 0: forgetting)",
        "Learning accuracy = (1/T) Σ_j R[j][j] (the NLL right after each distribution)",
    ]

    /// `matrix` must be T × T; `baseline` (b) has T entries when FWT is wanted.
    public init(matrix r: [[Double]], baseline: [Double]? = nil, lowerIsBetter: Bool = false) {
        let t = r.count
        precondition(t > 0 && r.allSatisfy { $0.count == t }, "the score matrix must be square")
        let last = r[t - 1]
        acc = last.reduce(0, +) / Double(t)
        learningAcc = (0..<t).map { r[$0][$0] }.reduce(0, +) / Double(t)
        self.lowerIsBetter = lowerIsBetter ? true : nil
        guard t > 1 else { bwt = nil; fwt = nil; forgetting = nil; return }
        let earlier = 0..<(t - 1)
        bwt = earlier.map { last[$0] - r[$0][$0] }.reduce(0, +) / Double(t - 1)
        forgetting = earlier.map { j in
            lowerIsBetter ? last[j] - earlier.map { r[$0][j] }.min()! : earlier.map { r[$0][j] }.max()! - last[j]
        }.reduce(0, +) / Double(t - 1)
        if let b = baseline {
            precondition(b.count == t, "one baseline score per task")
            fwt = (1..<t).map { r[$0 - 1][$0] - b[$0] }.reduce(0, +) / Double(t - 1)
        } else {
            fwt = nil
        }
    }
}

extension ContinualMetrics {
    /// The metrics of a finished run (nil while its R is not square), recomputed from R so that a
    /// report and its formulas always agree.
    public init?(results r: StreamRunner.Results) {
        guard r.matrix.count == r.tasks.count, !r.tasks.isEmpty else { return nil }
        self.init(matrix: r.matrix, baseline: r.baseline.count == r.tasks.count ? r.baseline : nil, lowerIsBetter: r.lowerIsBetter)
    }
}

extension StreamRunner.Results {
    /// Every task is a text corpus scored by NLL: lower is better.
    public var lowerIsBetter: Bool { !metricNames.isEmpty && metricNames.allSatisfy { $0 == TaskMetric.nll.rawValue } }
}
