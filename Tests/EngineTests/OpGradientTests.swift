import Foundation
import LifelongEngine
import TestSupport
import Testing

/// Every op's backward against finite differences (see `checkGradients`).
@Suite struct OpGradientTests {
    @Test func linearBothLayoutsWithBias() {
        let x = random([2, 3, 5], seed: 1), b = random([4], seed: 3)
        let wOutIn = random([4, 5], seed: 2), wInOut = random([5, 4], seed: 4)
        checkGradients([x, wOutIn, b]) { linear(x, wOutIn, b, layout: .outIn) }
        checkGradients([x, wInOut, b]) { linear(x, wInOut, b, layout: .inOut) }
        checkGradients([x, wOutIn]) { linear(x, wOutIn) }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func batchedMatmul(transposeA: Bool, transposeB: Bool) {
        let a = random(transposeA ? [2, 4, 3] : [2, 3, 4], seed: 5)
        let b = random(transposeB ? [2, 5, 4] : [2, 4, 5], seed: 6)
        let out = matmul(a, b, transposeA: transposeA, transposeB: transposeB)
        #expect(out.shape == [2, 3, 5])
        checkGradients([a, b]) { matmul(a, b, transposeA: transposeA, transposeB: transposeB) }
    }

    @Test func broadcastingArithmetic() {
        let a = random([2, 3, 4], seed: 7), row = random([4], seed: 8), plane = random([3, 4], seed: 9)
        checkGradients([a, row]) { add(a, row) }
        checkGradients([a, plane]) { mul(a, plane) }
        checkGradients([a]) { scale(a, -1.5) }
        let sameShape = random([2, 3, 4], seed: 10)
        checkGradients([a, sameShape]) { mul(a, sameShape) }
    }

    @Test func embeddingScatterAddsRepeatedIds() {
        let table = random([6, 3], seed: 11)
        let ids = [1, 4, 1, 0, 1]
        checkGradients([table]) { embedding(table, ids: ids, shape: [5]) }
        table.zeroGrad()
        sum(embedding(table, ids: ids)).backward()
        #expect(table.gradScalars![3...5] == [3, 3, 3])  // row 1 was looked up three times
        #expect(table.gradScalars![6...8] == [0, 0, 0])  // row 2 never
    }

    @Test func norms() {
        let x = random([3, 8], seed: 12), w = random([8], seed: 13), b = random([8], seed: 14)
        checkGradients([x, w, b]) { layerNorm(x, weight: w, bias: b, eps: 1e-5) }
        checkGradients([x, w]) { rmsNorm(x, weight: w, eps: 1e-6) }
    }

    @Test func activations() {
        let x = random([4, 7], seed: 15, std: 2), up = random([4, 7], seed: 16)  // 28: SIMD chunks and a tail
        checkGradients([x]) { geluTanh(x) }
        checkGradients([x]) { geluErf(x) }
        checkGradients([x]) { silu(x) }
        checkGradients([x, up]) { swiGLU(gate: x, up: up) }
        checkGradients([x]) { softmax(x) }
    }

    @Test func activationValuesMatchTheirDefinitions() {
        let x = Tensor([-3, -0.5, 0, 0.7, 2.5], shape: [5])
        let tanhForm = geluTanh(x).scalars, exact = geluErf(x).scalars
        for (i, v) in x.scalars.enumerated() {
            let phi = 0.5 * (1 + erf(Double(v) / 2.0.squareRoot()))
            #expect(abs(Double(exact[i]) - Double(v) * phi) < 1e-6)
            #expect(abs(tanhForm[i] - exact[i]) < 2e-3)  // the tanh form approximates the exact one
        }
    }

    @Test func rotaryEmbedding() {
        let x = random([2, 3, 2 * 8], seed: 17)
        let positions = [0, 1, 2, 5, 6, 7]
        checkGradients([x]) { rope(x, heads: 2, positions: positions, base: 10_000) }
        // Position 0 is the identity; rotations keep each pair's norm.
        let y = rope(x, heads: 2, positions: positions, base: 10_000)
        #expect(Array(y.scalars[0..<16]) == Array(x.scalars[0..<16]))
        let (a, b) = (x.scalars[16], x.scalars[20]), (c, d) = (y.scalars[16], y.scalars[20])
        #expect(abs((a * a + b * b) - (c * c + d * d)) < 1e-5)
    }

    @Test func causalAttentionWithGroupedHeads() {
        let q = random([2, 4, 4 * 3], seed: 18), k = random([2, 4, 2 * 3], seed: 19), v = random([2, 4, 2 * 3], seed: 20)
        checkGradients([q, k, v]) { attention(q: q, k: k, v: v, heads: 4, kvHeads: 2) }
    }

    @Test func bidirectionalAttentionWithPadding() {
        let q = random([2, 3, 2 * 4], seed: 30), k = random([2, 3, 2 * 4], seed: 31), v = random([2, 3, 2 * 4], seed: 32)
        let mask = [true, true, false, true, true, true]
        checkGradients([q, k, v]) { attention(q: q, k: k, v: v, heads: 2, kvHeads: 2, causal: false, keyMask: mask) }
        // The first query now sees the later keys too.
        let causal = attention(q: q, k: k, v: v, heads: 2, kvHeads: 2).scalars
        let full = attention(q: q, k: k, v: v, heads: 2, kvHeads: 2, causal: false).scalars
        #expect(Array(causal[0..<8]) != Array(full[0..<8]))
    }

    @Test func attentionWithPaddingMaskAndCacheOffset() {
        let q = random([2, 2, 2 * 4], seed: 21), k = random([2, 5, 2 * 4], seed: 22), v = random([2, 5, 2 * 4], seed: 23)
        let mask = [false, true, true, true, true, true, true, false, true, true]
        checkGradients([q, k, v]) { attention(q: q, k: k, v: v, heads: 2, kvHeads: 2, keyMask: mask) }
    }

    /// Nine or more queries take the matrix-product path: grouped heads, a cache offset (11 keys)
    /// and left padding, against a plain softmax reference and finite differences.
    @Test func attentionOverManyQueriesMatchesThePlainDefinition() {
        let (batch, queries, keys, heads, kvHeads, dim) = (2, 9, 11, 4, 2, 3)
        let q = random([batch, queries, heads * dim], seed: 40), k = random([batch, keys, kvHeads * dim], seed: 41)
        let v = random([batch, keys, kvHeads * dim], seed: 42)
        let mask = (0..<(batch * keys)).map { $0 != 0 && $0 != 1 && $0 != keys }  // padding at the start of each row
        let out = attention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, keyMask: mask).scalars
        var worst: Float = 0
        for b in 0..<batch {
            for h in 0..<heads {
                let kvh = h / (heads / kvHeads)
                for t in 0..<queries {
                    let visible = (0...(t + keys - queries)).filter { mask[b * keys + $0] }
                    let scores = visible.map { j in
                        (0..<dim).reduce(Float(0)) { $0 + q.scalars[(b * queries + t) * heads * dim + h * dim + $1]
                            * k.scalars[(b * keys + j) * kvHeads * dim + kvh * dim + $1] } / Float(dim).squareRoot()
                    }
                    let top = scores.max()!, weights = scores.map { Foundation.exp($0 - top) }
                    let total = weights.reduce(0, +)
                    for d in 0..<dim {
                        var expected: Float = 0
                        for (i, j) in visible.enumerated() {
                            expected += weights[i] / total * v.scalars[(b * keys + j) * kvHeads * dim + kvh * dim + d]
                        }
                        worst = max(worst, abs(out[(b * queries + t) * heads * dim + h * dim + d] - expected))
                    }
                }
            }
        }
        #expect(worst < 1e-5, "largest difference \(worst)")
        checkGradients([q, k, v]) { attention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, keyMask: mask) }
    }

    @Test func attentionIsCausalAndMasksPadding() {
        let q = random([1, 3, 4], seed: 24), k = random([1, 3, 4], seed: 25), v = random([1, 3, 4], seed: 26)
        let full = attention(q: q, k: k, v: v, heads: 1, kvHeads: 1).scalars
        // The first query sees only the first key: its output is v₀.
        #expect(Array(full[0..<4]) == Array(v.scalars[0..<4]))
        // Changing the last key does not change earlier outputs.
        k.data[8] += 5; v.data[8] += 5
        let changed = attention(q: q, k: k, v: v, heads: 1, kvHeads: 1).scalars
        #expect(Array(full[0..<8]) == Array(changed[0..<8]))
        // A masked key is invisible: masking key 1 makes query 1 see only key 0.
        let masked = attention(q: q, k: k, v: v, heads: 1, kvHeads: 1, keyMask: [true, false, true]).scalars
        #expect(Array(masked[4..<8]) == Array(v.scalars[0..<4]))
    }

    @Test func losses() {
        let logits = random([5, 7], seed: 27, std: 2)
        let targets = [3, -100, 0, 6, 3]
        checkGradients([logits]) { crossEntropy(logits, targets: targets) }
        checkGradients([logits]) { crossEntropy(logits, targets: targets, weights: [1, 1, 5, 1, 2]) }
        // A vocabulary of 19 covers the SIMD chunks and the tail; the sum of two losses on the same
        // logits covers a gradient that is added to instead of taken over.
        let wide = random([4, 19], seed: 29, std: 2), wideTargets = [18, 0, -100, 9]
        checkGradients([wide]) {
            add(crossEntropy(wide, targets: wideTargets), crossEntropy(wide, targets: wideTargets, weights: [2, 1, 1, 3]))
        }
        let teacher = random([5, 7], seed: 28, requiresGrad: false)
        checkGradients([logits]) { klDivergence(student: logits, teacher: teacher, temperature: 2) }
        checkGradients([logits]) {
            klDivergence(student: logits, teacher: teacher, temperature: 1, rowMask: [true, false, true, true, false])
        }
    }

    @Test func crossEntropyOfUniformLogitsIsLogVocab() {
        let logits = Tensor(zeros: [3, 10])
        #expect(abs(crossEntropy(logits, targets: [1, 2, 3]).item - log(10)) < 1e-6)
        #expect(crossEntropy(logits, targets: [-100, -100, -100]).item == 0)
    }

    @Test func reductionsShapesAndDropout() {
        let x = random([3, 4], seed: 29)
        checkGradients([x]) { sum(x) }
        checkGradients([x]) { mean(x) }
        checkGradients([x]) { x.reshaped([4, -1]) }
        checkGradients([x]) { split(x, widths: [1, 3])[1] }
        var rng = SeededGenerator(seed: 5)
        let dropped = dropout(x, probability: 0.5, rng: &rng)
        let kept = zip(dropped.scalars, x.scalars).filter { $0.0 != 0 }
        #expect(kept.allSatisfy { abs($0.0 - 2 * $0.1) < 1e-6 })
        #expect(kept.count > 2 && kept.count < 10)
        x.zeroGrad()
        sum(dropped).backward()
        #expect(x.gradScalars! == dropped.scalars.map { $0 == 0 ? 0 : 2 })
    }
}
