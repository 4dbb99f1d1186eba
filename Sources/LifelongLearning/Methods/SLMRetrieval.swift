import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels

/// SLM's DTKR (dynamic task-related knowledge retrieval): query embeddings from a frozen
/// sentence encoder, keys per slot, and the mixture weights of the slots an example retrieves.
package enum SLMRetrieval {
    /// The query text of an example: its raw input (context and question), no special tokens.
    public static func queryText(_ example: Example) -> String {
        example.context.isEmpty ? example.question : example.context + " " + example.question
    }

    /// Mixture weights of the `topK` most similar slots among `candidates` (indices into the
    /// columns of `similarity`), w_j = s_j / Σ s_j over the chosen ones, as a row of `slotCount`
    /// weights. Similarities are clamped at a small positive value so that the weights are a
    /// convex combination even for a query that resembles no key.
    public static func weights(similarity: ArraySlice<Float>, candidates: Range<Int>, topK: Int, slotCount: Int) -> [Float] {
        var row = [Float](repeating: 0, count: slotCount)
        let chosen = topIndices(similarity, among: candidates, count: topK)
        let scores = chosen.map { max(similarity[similarity.startIndex + $0], 1e-6) }
        let total = scores.reduce(0, +)
        for (j, s) in zip(chosen, scores) { row[j] = s / total }
        return row
    }

    /// The `count` columns of `values` with the largest values among `candidates`, best first
    /// (the lower index on ties).
    public static func topIndices(_ values: ArraySlice<Float>, among candidates: Range<Int>, count: Int) -> [Int] {
        Array(candidates.sorted {
            let (a, b) = (values[values.startIndex + $0], values[values.startIndex + $1])
            return a > b || (a == b && $0 < $1)
        }.prefix(count))
    }

    /// Keys of `slots` new slots for one task's queries ([N × D], D = `groups` × chunk).
    ///
    /// Initialised orthogonally within every group (or as the means of `slots` shards of the
    /// queries), then trained with AdamW to maximise each query's mean cosine similarity with its
    /// `topK` best keys, a random `maskRate` of the similarities hidden before choosing, so that
    /// the queries spread over all the task's keys instead of collapsing on one.
    public static func trainKeys(queries: [Float], width: Int, slots: Int, settings: SLM.KeySettings, groups: Int, topK: Int,
                                 seed: UInt64, shouldStop: () -> Bool) throws -> [Float] {
        var rng = SeededGenerator(seed: seed)
        var shuffler = SeededShuffler(seed: seed &+ 1)
        let keys = Tensor(initialKeys(queries: queries, width: width, slots: slots, groups: groups, shardMeans: settings.initialization == .shardMeans, rng: &rng),
                          shape: [slots, width], requiresGrad: true)
        let optimizer = AdamW(groups: [AdamW.Group(parameters: [keys], weightDecay: 0)], learningRate: settings.learningRate)
        let count = queries.count / width, batchSize = settings.batchSize, k = min(topK, slots)
        var order = Array(0..<count)
        for _ in 0..<settings.epochs {
            if shouldStop() { throw RunInterrupted(checkpoint: "the last checkpoint (key training restarts on --resume)") }
            order = shuffler.shuffled(order)
            for start in stride(from: 0, to: count, by: batchSize) {
                let rows = order[start..<min(start + batchSize, count)]
                let batch = rows.flatMap { queries[($0 * width)..<(($0 + 1) * width)] }
                optimizer.zeroGrad()
                let similarity = groupedCosineSimilarity(queries: batch, keys: keys, groups: groups)
                let values = similarity.scalars
                // The loss −mean of the chosen similarities, as Σ s ⊙ selection.
                var selection = [Float](repeating: 0, count: rows.count * slots)
                for n in 0..<rows.count {
                    var masked = Array(values[(n * slots)..<((n + 1) * slots)])
                    for j in 0..<slots where rng.nextFloat() < settings.maskRate { masked[j] = -.infinity }
                    for j in topIndices(masked[...], among: 0..<slots, count: k) where masked[j] > -.infinity {
                        selection[n * slots + j] = -1 / Float(rows.count * k)
                    }
                }
                sum(mul(similarity, Tensor(selection, shape: [rows.count, slots]))).backward()
                optimizer.step()
            }
        }
        return keys.scalars
    }

    /// Orthonormal keys within every group (Gram–Schmidt on Gaussian draws), or shard means.
    static func initialKeys(queries: [Float], width: Int, slots: Int, groups: Int, shardMeans: Bool, rng: inout SeededGenerator) -> [Float] {
        let count = queries.count / width
        if shardMeans && count >= slots {
            var keys = [Float](repeating: 0, count: slots * width)
            var shuffler = SeededShuffler(seed: rng.next())
            let order = shuffler.shuffled(Array(0..<count))
            for (i, n) in order.enumerated() {
                let slot = i * slots / count
                for d in 0..<width { keys[slot * width + d] += queries[n * width + d] }
            }
            return keys
        }
        var keys = (0..<(slots * width)).map { _ in rng.nextGaussian() }
        let chunk = width / groups
        for g in 0..<groups {
            for j in 0..<min(slots, chunk) {  // more keys than dimensions cannot all be orthogonal
                let row = j * width + g * chunk
                for i in 0..<j {
                    let other = i * width + g * chunk
                    var dot: Float = 0
                    for d in 0..<chunk { dot += keys[row + d] * keys[other + d] }
                    for d in 0..<chunk { keys[row + d] -= dot * keys[other + d] }
                }
                var norm: Float = 0
                for d in 0..<chunk { norm += keys[row + d] * keys[row + d] }
                norm = max(norm.squareRoot(), 1e-12)
                for d in 0..<chunk { keys[row + d] /= norm }
            }
        }
        return keys
    }
}

/// The frozen sentence encoder and the embeddings it has made in this run (each text once).
final class QueryEncoder {
    let location: String
    private var encoder: SentenceEncoder?
    private var cache: [String: [Float]] = [:]

    init(location: String) { self.location = location }

    /// Unit-length embeddings of `texts`, concatenated ([texts × width]).
    func embed(_ texts: [String]) throws -> [Float] {
        // One text per forward pass: in a padded batch the last bits of an embedding depend on
        // the batch's other texts, and a resumed run (whose cache starts empty) must see the same
        // queries as an uninterrupted one.
        for text in texts where cache[text] == nil { cache[text] = try loaded().embed([text], batchSize: 1)[0] }
        return texts.flatMap { cache[$0]! }
    }

    var width: Int { get throws { try loaded().encoder.config.hiddenSize } }

    private func loaded() throws -> SentenceEncoder {
        if let encoder { return encoder }
        let source: ModelSource
        do { source = try ModelSource(location) } catch is RequestError {
            throw FormatError(file: "method.encoder", "'\(location)' is neither a pulled model (`lifelong models pull minilm-l6`) nor a directory")
        }
        let loaded = try source.sentenceEncoder()
        encoder = loaded
        return loaded
    }
}

/// What retrieval chose in the latest evaluation: per true task, how often the top slot
/// belonged to each task.
final class RetrievalRecord {
    var tasks: [String] = []
    /// confusion[true task][task of the top slot], over the test examples of the latest evaluation.
    var confusion: [[Int]] = []

    func begin(tasks: [String]) {
        self.tasks = tasks
        confusion = tasks.map { _ in [Int](repeating: 0, count: tasks.count) }
    }

    /// Share of each task's test examples whose top slot is the task's own (nil: not evaluated).
    var accuracy: [Double?] {
        confusion.enumerated().map { i, row in
            let total = row.reduce(0, +)
            return total == 0 ? nil : Double(row[i]) / Double(total)
        }
    }
}
