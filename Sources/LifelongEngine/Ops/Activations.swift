import Foundation

/// Applies a scalar function element-wise; the backward multiplies by its derivative at x.
@inline(__always)
private func pointwise(_ x: Tensor, _ op: String,
                       _ f: @escaping (Float) -> Float, _ df: @escaping (Float) -> Float) -> Tensor {
    let out = Tensor(uninitialized: x.shape, op: op)
    let xp = x.data.baseAddress!, yp = out.data.baseAddress!
    Parallel.forRanges(x.count, costPerItem: 16) { range in
        for i in range { yp[i] = f(xp[i]) }
    }
    out.recordBackward([x]) { dy in
        guard let dx = x.gradPointer() else { return }
        Parallel.forRanges(x.count, costPerItem: 16) { range in
            for i in range { dx[i] += dy[i] * df(xp[i]) }
        }
    }
    return out
}

private let sqrt2OverPi: Float = 0.7978845608028654
private let invSqrt2: Float = 0.7071067811865476
private let invSqrt2Pi: Float = 0.3989422804014327

/// GELU, tanh approximation (GPT-2's "gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
public func geluTanh(_ x: Tensor) -> Tensor {
    pointwise(x, "geluTanh", { v in
        0.5 * v * (1 + tanh(sqrt2OverPi * (v + 0.044715 * v * v * v)))
    }, { v in
        let t = tanh(sqrt2OverPi * (v + 0.044715 * v * v * v))
        return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * sqrt2OverPi * (1 + 3 * 0.044715 * v * v)
    })
}

/// GELU, exact (BERT): x·Φ(x) = 0.5·x·(1 + erf(x/√2)); derivative Φ(x) + x·φ(x).
public func geluErf(_ x: Tensor) -> Tensor {
    pointwise(x, "geluErf", { v in
        0.5 * v * (1 + erf(v * invSqrt2))
    }, { v in
        0.5 * (1 + erf(v * invSqrt2)) + v * invSqrt2Pi * exp(-0.5 * v * v)
    })
}

@inline(__always) private func sigmoid(_ v: Float) -> Float { 1 / (1 + exp(-v)) }

/// SiLU (swish): x·σ(x); derivative σ(x)·(1 + x·(1 − σ(x))).
public func silu(_ x: Tensor) -> Tensor {
    pointwise(x, "silu", { v in v * sigmoid(v) }, { v in
        let s = sigmoid(v)
        return s * (1 + v * (1 - s))
    })
}

/// SwiGLU, Llama's feed-forward gate, fused: silu(gate) ⊙ up.
///   d gate = dy · up · silu'(gate)      d up = dy · silu(gate)
/// Eight values at a time (the sigmoid's exponential dominates), then a scalar tail.
public func swiGLU(gate: Tensor, up: Tensor) -> Tensor {
    precondition(gate.shape == up.shape, "swiGLU: gate \(gate.shape) and up \(up.shape) differ")
    let out = Tensor(uninitialized: gate.shape, op: "swiGLU")
    let gp = gate.data.baseAddress!, upp = up.data.baseAddress!, yp = out.data.baseAddress!
    Parallel.forRanges(gate.count, costPerItem: 16) { range in
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let g = SIMD8<Float>(load: gp + i)
            (g * VectorMath.sigmoid(g) * SIMD8<Float>(load: upp + i)).store(to: yp + i)
            i += 8
        }
        while i < range.upperBound { yp[i] = gp[i] * sigmoid(gp[i]) * upp[i]; i += 1 }
    }
    out.recordBackward([gate, up]) { dy in
        let dg = gate.gradPointer(), du = up.gradPointer()
        Parallel.forRanges(gate.count, costPerItem: 16) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let g = SIMD8<Float>(load: gp + i), s = VectorMath.sigmoid(g), d = SIMD8<Float>(load: dy + i)
                if let dg { (SIMD8<Float>(load: dg + i) + d * SIMD8<Float>(load: upp + i) * s * (1 + g * (1 - s))).store(to: dg + i) }
                if let du { (SIMD8<Float>(load: du + i) + d * g * s).store(to: du + i) }
                i += 8
            }
            while i < range.upperBound {
                let g = gp[i], s = sigmoid(g)
                dg?[i] += dy[i] * upp[i] * s * (1 + g * (1 - s))
                du?[i] += dy[i] * g * s
                i += 1
            }
        }
    }
    return out
}
