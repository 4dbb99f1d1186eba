import Foundation
import LifelongEngine
import Testing

@Suite struct VectorMathTests {
    @Test func exponentialIsWithinTwoUlpsAndZeroBelowTheNormalRange() {
        var worstUlps: Double = 0
        var x = SIMD8<Float>()
        for i in 0..<200_000 {
            let v = -87 + Float(i) * (175 / 200_000)
            x[i % 8] = v
            guard i % 8 == 7 else { continue }
            let e = VectorMath.exp(x)
            for lane in 0..<8 {
                let exact = Foundation.exp(Double(x[lane]))
                worstUlps = max(worstUlps, abs(Double(e[lane]) - exact) / Double(Float(exact).ulp))
            }
        }
        #expect(worstUlps <= 2, "worst error \(worstUlps) ulp")
        let edges = VectorMath.exp(SIMD8(-.infinity, -1000, -88, 0, 1, -0.0, 200, -87.3))
        #expect(edges[0] == 0 && edges[1] == 0 && edges[2] == 0 && edges[3] == 1 && edges[5] == 1)
        #expect(abs(edges[4] - Float(M_E)) <= Float(M_E).ulp && edges[6].isFinite && edges[7] > 0)
    }

    @Test func reductionsCoverEveryElementIncludingTheTail() {
        for count in [1, 7, 8, 9, 23, 64, 1001] {
            let x = (0..<count).map { Float(($0 * 37) % 101) / 10 - 5 }
            let y = (0..<count).map { Float(($0 * 53) % 89) / 20 - 2 }
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { yp in
                    let maxValue = VectorMath.maximum(xp.baseAddress!, count: count)
                    #expect(maxValue == x.max()!, "maximum of \(count)")
                    let dot = VectorMath.dot(xp.baseAddress!, yp.baseAddress!, count: count)
                    let exactDot = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                    #expect(abs(Double(dot) - exactDot) <= 1e-4 * max(1, abs(exactDot)), "dot of \(count)")
                    var e = [Float](repeating: 0, count: count)
                    let sum = e.withUnsafeMutableBufferPointer {
                        VectorMath.exponentials(xp.baseAddress!, minus: maxValue, into: $0.baseAddress!, count: count)
                    }
                    let exact = x.map { Foundation.exp(Double($0 - maxValue)) }
                    let worst = zip(e, exact).map { abs(Double($0) - $1) / $1 }.max()!
                    #expect(worst < 1e-6 && abs(Double(sum) - exact.reduce(0, +)) < 1e-5 * exact.reduce(0, +), "exponentials of \(count)")
                    var w = y
                    w.withUnsafeMutableBufferPointer { VectorMath.addScaled(xp.baseAddress!, scale: -2, into: $0.baseAddress!, count: count) }
                    #expect(w == (0..<count).map { y[$0] + -2 * x[$0] }, "addScaled of \(count)")
                }
            }
        }
    }
}
