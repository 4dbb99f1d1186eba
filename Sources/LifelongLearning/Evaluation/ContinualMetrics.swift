/// Continual-learning metrics of a score matrix R (R[i][j]: score on task j after training task
/// i, tasks numbered from 0, T tasks), following Lopez-Paz & Ranzato (2017) and Chaudhry et al.
/// (2018). Each formula is written beside its property and in every report.
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

    enum CodingKeys: String, CodingKey {
        case acc, bwt, fwt, forgetting
        case learningAcc = "learning_acc"
    }

    public static let formulas = [
        "ACC = (1/T) Σ_j R[T][j]",
        "BWT = (1/(T−1)) Σ_{j<T} (R[T][j] − R[j][j])",
        "FWT = (1/(T−1)) Σ_{j≥2} (R[j−1][j] − b_j), b_j = score of the untrained model",
        "Forgetting = (1/(T−1)) Σ_{j<T} max_{l<T} (R[l][j] − R[T][j])",
        "Learning accuracy = (1/T) Σ_j R[j][j]",
    ]

    /// `matrix` must be T × T; `baseline` (b) has T entries when FWT is wanted.
    public init(matrix r: [[Double]], baseline: [Double]? = nil) {
        let t = r.count
        precondition(t > 0 && r.allSatisfy { $0.count == t }, "the score matrix must be square")
        let last = r[t - 1]
        acc = last.reduce(0, +) / Double(t)
        learningAcc = (0..<t).map { r[$0][$0] }.reduce(0, +) / Double(t)
        guard t > 1 else { bwt = nil; fwt = nil; forgetting = nil; return }
        let earlier = 0..<(t - 1)
        bwt = earlier.map { last[$0] - r[$0][$0] }.reduce(0, +) / Double(t - 1)
        forgetting = earlier.map { j in earlier.map { r[$0][j] }.max()! - last[j] }.reduce(0, +) / Double(t - 1)
        if let b = baseline {
            precondition(b.count == t, "one baseline score per task")
            fwt = (1..<t).map { r[$0 - 1][$0] - b[$0] }.reduce(0, +) / Double(t - 1)
        } else {
            fwt = nil
        }
    }
}
