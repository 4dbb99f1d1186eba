import LifelongEngine
import Testing

/// Compares the autograd gradient of L = Σ rᵢ·f(inputs)ᵢ (r fixed random weights) with central
/// finite differences, for up to `samples` elements of every input that requires a gradient.
public func checkGradients(_ inputs: [Tensor], epsilon: Float = 1e-2, samples: Int = 24,
                    tolerance: Float = 2e-2, sourceLocation: SourceLocation = #_sourceLocation,
                    _ f: () -> Tensor) {
    var rng = SeededGenerator(seed: 99)
    let probe = f()
    let weights = Tensor(randomNormal: probe.shape, std: 1, rng: &rng)
    func objective() -> Double {
        let y = noGrad { f() }
        var total: Double = 0
        for i in 0..<y.count { total += Double(y.data[i]) * Double(weights.data[i]) }
        return total
    }
    for x in inputs { x.zeroGrad() }
    sum(mul(f(), weights)).backward()

    for (n, x) in inputs.enumerated() where x.requiresGrad {
        let analytic = x.gradScalars ?? [Float](repeating: 0, count: x.count)
        let indices = x.count <= samples ? Array(0..<x.count) : (0..<samples).map { _ in Int(rng.next() % UInt64(x.count)) }
        for i in indices {
            let saved = x.data[i]
            x.data[i] = saved + epsilon
            let plus = objective()
            x.data[i] = saved - epsilon
            let minus = objective()
            x.data[i] = saved
            let numeric = Float((plus - minus) / Double(2 * epsilon))
            let error = abs(numeric - analytic[i])
            #expect(error <= tolerance * max(1, abs(numeric)),
                    "input \(n) element \(i): autograd \(analytic[i]) vs finite difference \(numeric)",
                    sourceLocation: sourceLocation)
        }
    }
}

public func random(_ shape: [Int], seed: UInt64, std: Float = 1, requiresGrad: Bool = true) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    return Tensor(randomNormal: shape, std: std, rng: &rng, requiresGrad: requiresGrad)
}
