import LifelongEngine
import TestSupport
import Testing

/// SLM's two ops: the per-sequence mixture of low-rank increments and the grouped cosine
/// similarity its keys train with.
@Suite struct LowRankMixtureTests {
    /// Two sequences, three slots of rank 2; sequence 0 mixes slots 0 and 2, sequence 1 uses
    /// slot 1 alone (slot weights of zero must give no gradient to a slot no sequence uses).
    @Test func gradientsOfTheMixture() {
        let x = random([2, 3, 5], seed: 1)
        let a = (0..<3).map { random([2, 5], seed: 10 + UInt64($0)) }
        let b = (0..<3).map { random([2, 4], seed: 20 + UInt64($0)) }
        let weights: [Float] = [0.7, 0, 0.3, 0, 1, 0]
        checkGradients([x] + a + b) { lowRankMixture(x, a: a, b: b, weights: weights) }
    }

    /// The op equals the explicit sum Σ_j w_j · x·(A_jᵀ B_j) with the d×d increment built.
    @Test func equalsTheExplicitIncrement() {
        let x = random([2, 3, 4], seed: 2, requiresGrad: false)
        let a = (0..<2).map { random([3, 4], seed: 30 + UInt64($0), requiresGrad: false) }
        let b = (0..<2).map { random([3, 6], seed: 40 + UInt64($0), requiresGrad: false) }
        let weights: [Float] = [0.25, 0.75, 1, 0]
        let y = lowRankMixture(x, a: a, b: b, weights: weights)
        for s in 0..<2 {
            for t in 0..<3 {
                for o in 0..<6 {
                    var expected: Float = 0
                    for j in 0..<2 {
                        for i in 0..<4 {
                            var delta: Float = 0  // (A_jᵀ B_j)[i, o]
                            for r in 0..<3 { delta += a[j].data[r * 4 + i] * b[j].data[r * 6 + o] }
                            expected += weights[s * 2 + j] * x.data[(s * 3 + t) * 4 + i] * delta
                        }
                    }
                    #expect(abs(y.data[(s * 3 + t) * 6 + o] - expected) < 1e-4)
                }
            }
        }
    }

    @Test func unusedSlotsGetNoGradient() {
        let x = random([2, 1, 3], seed: 3)
        let a = (0..<2).map { random([1, 3], seed: 50 + UInt64($0)) }
        let b = (0..<2).map { random([1, 3], seed: 60 + UInt64($0)) }
        sum(lowRankMixture(x, a: a, b: b, weights: [1, 0, 1, 0])).backward()
        #expect(a[1].gradScalars == nil && b[1].gradScalars == nil)
        #expect(a[0].gradScalars != nil && b[0].gradScalars != nil)
    }

    @Test func gradientsOfTheGroupedCosineSimilarity() {
        var rng = SeededGenerator(seed: 4)
        let queries = (0..<(5 * 6)).map { _ in rng.nextGaussian() }
        let keys = random([3, 6], seed: 5)
        checkGradients([keys], epsilon: 1e-3) { groupedCosineSimilarity(queries: queries, keys: keys, groups: 2) }
    }

    @Test func groupedCosineIsTheMeanOfTheGroupsCosines() {
        // Group 1 identical (cos 1), group 2 opposite (cos −1): mean 0; against itself: 1.
        let keys = Tensor([1, 2, 3, -1], shape: [1, 4])
        let s = groupedCosineSimilarity(queries: [2, 4, -6, 2, 1, 2, 3, -1], keys: keys, groups: 2)
        #expect(abs(s.data[0]) < 1e-6)
        #expect(abs(s.data[1] - 1) < 1e-6)
    }
}
