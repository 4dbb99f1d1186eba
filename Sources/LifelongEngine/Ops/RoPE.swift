import Foundation

/// Rotary position embedding, in the "rotate half" layout of Hugging Face Llama: within each head
/// of width D, element i is paired with element i + D/2 and the pair is rotated by the angle
/// position · base^(−2i/D).
///
/// `x` is [..., heads · D] with one row per token; `positions` gives each row's position (so left
/// padding and a KV-cache offset are just other positions). The backward rotates by −angle.
public func rope(_ x: Tensor, heads: Int, positions: [Int], base: Float) -> Tensor {
    let width = x.lastDim, rows = x.rowCount
    precondition(width % heads == 0 && (width / heads) % 2 == 0, "rope: width \(width) is not heads × even head size")
    precondition(positions.count == rows, "rope: \(positions.count) positions for \(rows) rows")
    let headDim = width / heads, half = headDim / 2
    let table = RotaryTable(positions: positions, half: half, headDim: headDim, base: base)
    let out = Tensor(uninitialized: x.shape, op: "rope")
    let xp = x.data.baseAddress!, yp = out.data.baseAddress!
    Parallel.forEach(rows, costPerItem: width * 2) { r in
        table.rotate(xp + r * width, into: yp + r * width, row: r, heads: heads, inverse: false)
    }
    out.recordBackward([x]) { dy in
        guard let dx = x.gradPointer() else { return }
        Parallel.forEach(rows, costPerItem: width * 2) { r in
            table.rotate(dy + r * width, into: dx + r * width, row: r, heads: heads, inverse: true, accumulate: true)
        }
    }
    return out
}

/// cos/sin of every (row, frequency) pair, computed once per call as Hugging Face does:
/// inv_freq = 1 / base^(2i/D) in fp32, angle = position · inv_freq in fp32.
struct RotaryTable {
    let cos: [Float], sin: [Float], half: Int, headDim: Int

    init(positions: [Int], half: Int, headDim: Int, base: Float) {
        let invFreq = (0..<half).map { 1 / pow(base, Float(2 * $0) / Float(headDim)) }
        var c = [Float](repeating: 0, count: positions.count * half), s = c
        for (r, p) in positions.enumerated() {
            for i in 0..<half {
                let angle = Float(p) * invFreq[i]
                c[r * half + i] = Foundation.cos(angle); s[r * half + i] = Foundation.sin(angle)
            }
        }
        self.cos = c; self.sin = s; self.half = half; self.headDim = headDim
    }

    @inline(__always)
    func rotate(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, row: Int, heads: Int,
                inverse: Bool, accumulate: Bool = false) {
        let sign: Float = inverse ? -1 : 1
        cos.withUnsafeBufferPointer { cp in
            sin.withUnsafeBufferPointer { sp in
                let c = cp.baseAddress! + row * half, s = sp.baseAddress! + row * half
                for h in 0..<heads {
                    let x = src + h * headDim, y = dst + h * headDim
                    for i in 0..<half {
                        let a = x[i], b = x[i + half], si = sign * s[i]
                        let ya = a * c[i] - b * si, yb = b * c[i] + a * si
                        if accumulate { y[i] += ya; y[i + half] += yb } else { y[i] = ya; y[i + half] = yb }
                    }
                }
            }
        }
    }
}
