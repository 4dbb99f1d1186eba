import LifelongEngine
import TestSupport
import Testing

@Suite struct AutogradTests {
    @Test func noGradRecordsNothing() {
        let w = random([3, 3], seed: 1)
        let y = noGrad { linear(random([2, 3], seed: 2, requiresGrad: false), w) }
        #expect(!y.requiresGrad)
        let z = linear(random([2, 3], seed: 2, requiresGrad: false), w)
        #expect(z.requiresGrad)
    }

    @Test func frozenParametersGetNoGradient() {
        let frozen = random([3, 3], seed: 3, requiresGrad: false), trained = random([3], seed: 4)
        let x = random([2, 3], seed: 5, requiresGrad: false)
        sum(linear(x, frozen, trained)).backward()
        #expect(frozen.grad == nil)
        #expect(trained.gradScalars == [2, 2, 2])
    }

    @Test func gradientsAccumulateUntilZeroed() {
        let w = random([4], seed: 6)
        let x = random([3, 4], seed: 7, requiresGrad: false)
        sum(mul(x, w)).backward()
        let once = w.gradScalars!
        sum(mul(x, w)).backward()
        #expect(zip(w.gradScalars!, once).allSatisfy { abs($0 - 2 * $1) < 1e-6 })
        w.zeroGrad()
        #expect(w.grad == nil)
    }

    @Test func sharedInputsSumTheirGradients() {
        let x = random([5], seed: 8)
        sum(add(mul(x, x), x)).backward()  // d/dx (x² + x) = 2x + 1
        #expect(zip(x.gradScalars!, x.scalars).allSatisfy { abs($0 - (2 * $1 + 1)) < 1e-5 })
    }

    @Test func seededGeneratorIsReproducible() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let first = (0..<5).map { _ in a.next() }
        #expect(first == (0..<5).map { _ in b.next() })
        #expect(first != (0..<5).map { _ in c.next() })
        var g = SeededGenerator(seed: 7)
        let samples = (0..<20_000).map { _ in Double(g.nextGaussian()) }
        let m = samples.reduce(0, +) / 20_000
        let variance = samples.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 20_000
        #expect(abs(m) < 0.03 && abs(variance - 1) < 0.05)
    }
}
