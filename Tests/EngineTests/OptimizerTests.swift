import Foundation
import LifelongEngine
import Testing

@Suite struct OptimizerTests {
    /// 21 values: the eight-wide chunks and the one-at-a-time tail must give exactly the
    /// update written out in PyTorch's order, over two steps.
    @Test func vectorisedUpdateEqualsTheScalarFormula() {
        var rng = SeededGenerator(seed: 5)
        let p = Tensor(randomNormal: [3, 7], std: 1, rng: &rng, requiresGrad: true)
        let target = Tensor(randomNormal: [3, 7], std: 1, rng: &rng)
        let optimizer = AdamW(parameters: [p], learningRate: 0.01, weightDecay: 0.1)
        var (w, m, v) = (p.scalars, [Float](repeating: 0, count: 21), [Float](repeating: 0, count: 21))
        for step in 1...2 {
            optimizer.zeroGrad()
            sum(mul(mul(p, p), target)).backward()
            let g = p.grad!.buffer
            optimizer.step()
            let t = Float(step), stepSize: Float = 0.01 / (1 - pow(0.9, t)), c2 = (1 - pow(Float(0.999), t)).squareRoot()
            for i in 0..<21 {
                w[i] *= 1 - 0.01 * 0.1
                m[i] += (g[i] - m[i]) * (1 - 0.9)
                v[i] = v[i] * 0.999 + (1 - 0.999) * g[i] * g[i]
                w[i] -= stepSize * m[i] / (v[i].squareRoot() / c2 + 1e-8)
            }
            #expect(p.scalars == w, "step \(step)")
        }
    }

    @Test func adamWFirstStepMatchesTheFormula() {
        // One step from zero moments: m̂ = g, v̂ = g², so p ← p(1 − lr·wd) − lr·g/(|g| + ε).
        let p = Tensor([1, -2, 0.5], shape: [1, 3], requiresGrad: true)
        sum(mul(p, Tensor([0.3, -4, 0], shape: [3]))).backward()
        let optimizer = AdamW(parameters: [p], learningRate: 0.1, weightDecay: 0.01)
        optimizer.step()
        let g: [Float] = [0.3, -4, 0]
        for (i, w) in [Float(1), -2, 0.5].enumerated() {
            let expected = w * (1 - 0.1 * 0.01) - 0.1 * g[i] / (abs(g[i]) + 1e-8)
            #expect(abs(p.scalars[i] - expected) < 1e-6)
        }
    }

    @Test func oneDimensionalParametersGetNoDecay() {
        let matrix = Tensor([1, 1], shape: [1, 2], requiresGrad: true), vector = Tensor([1, 1], shape: [2], requiresGrad: true)
        let frozen = Tensor([1], shape: [1, 1], requiresGrad: false)
        let optimizer = AdamW(parameters: [matrix, vector, frozen], learningRate: 0.5, weightDecay: 0.1)
        #expect(optimizer.groups[0].parameters.count == 1 && optimizer.groups[0].weightDecay == 0.1)
        #expect(optimizer.groups[1].parameters.count == 1 && optimizer.groups[1].weightDecay == 0)
        sum(mul(matrix, Tensor([0, 0], shape: [2]))).backward()
        sum(mul(vector, Tensor([0, 0], shape: [2]))).backward()
        optimizer.step()
        #expect(matrix.scalars == [0.95, 0.95])
        #expect(vector.scalars == [1, 1])
    }

    @Test func gradientClippingScalesToMaxNorm() {
        let p = Tensor([0, 0], shape: [2], requiresGrad: true)
        sum(mul(p, Tensor([3, 4], shape: [2]))).backward()
        let norm = clipGradientNorm([p], maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        #expect(abs(p.gradScalars![0] - 0.6) < 1e-6 && abs(p.gradScalars![1] - 0.8) < 1e-6)
        #expect(abs(clipGradientNorm([p], maxNorm: 10) - 1) < 1e-5)  // below the limit: unchanged
        #expect(abs(p.gradScalars![0] - 0.6) < 1e-6)
    }

    @Test func learningRateSchedules() {
        let linear = LearningRateSchedule.linear(warmupSteps: 10, totalSteps: 110)
        #expect(linear.multiplier(atStep: 0) == 0)
        #expect(linear.multiplier(atStep: 5) == 0.5)
        #expect(linear.multiplier(atStep: 10) == 1)
        #expect(linear.multiplier(atStep: 60) == 0.5)
        #expect(linear.multiplier(atStep: 200) == 0)
        let cosine = LearningRateSchedule.cosine(warmupSteps: 0, totalSteps: 100)
        #expect(cosine.multiplier(atStep: 0) == 1)
        #expect(abs(cosine.multiplier(atStep: 50) - 0.5) < 1e-6)
        #expect(cosine.multiplier(atStep: 100) < 1e-6)
        #expect(LearningRateSchedule.constant.multiplier(atStep: 1234) == 1)
    }
}
