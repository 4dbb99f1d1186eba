import CKernels
import CUDAKernels
import Foundation
import LifelongEngine
import Testing
import TestSupport

/// Every CUDA kernel (Sources/LifelongCUDA/Kernels/*.cu) run on the CPU under the fiber emulation
/// of CUDA's threads, blocks, barriers, warp shuffles and atomics, and compared with the engine's
/// CPU op on the same inputs, forward and backward (the backward against the engine's autograd).
/// Launch shapes are the GPU's (whole rows per block, 32-thread warps), on sizes that leave partial
/// warps and grid-stride remainders. Tolerance: 2e-5 of the largest magnitude (the kernels sum in
/// another order than the engine; fp32 rounding only).
@Suite(.serialized) struct KernelEmulationTests {
    static let tolerance: Float = 2e-5

    func launched(_ status: Int32) {
        #expect(status == 0, "\(String(cString: lf_emulation_message()))")
    }

    func expectClose(_ actual: [Float], _ expected: [Float], _ what: String) {
        #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)")
        let scale = max(expected.map(abs).max() ?? 0, 1e-30)
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= Self.tolerance * scale, "\(what): max |Δ| \(worst) against a scale of \(scale)")
    }

    /// Σ (f(x) ⊙ r) for random r: its gradient with respect to f's output is r.
    func weightedSum(_ y: Tensor, _ r: Tensor) -> Tensor { sum(mul(y, r)) }

    @Test func elementwiseKernels() {
        let n = 1000
        let a = random([n], seed: 1, requiresGrad: false).scalars, b = random([n], seed: 2, requiresGrad: false).scalars
        var x = a
        launched(lf_emulate_scale(3, 64, &x, 0.5, Int32(n)))
        expectClose(x, a.map { $0 * 0.5 }, "scale")
        launched(lf_emulate_accumulate(3, 64, &x, b, Int32(n)))
        expectClose(x, zip(a, b).map { $0 * 0.5 + $1 }, "accumulate")
        var out = [Float](repeating: 9, count: n)
        launched(lf_emulate_add(2, 96, &out, a, b, Int32(n)))
        expectClose(out, add(Tensor(a, shape: [n]), Tensor(b, shape: [n])).scalars, "add")
        launched(lf_emulate_fill(1, 256, &out, -2, Int32(n)))
        expectClose(out, [Float](repeating: -2, count: n), "fill")
        var total: Float = 1
        launched(lf_emulate_sum_squares(3, 128, &total, a, Int32(n)))
        expectClose([total], [1 + a.reduce(0) { $0 + $1 * $1 }], "sum_squares")
    }

    @Test func embeddingGatherAndScatterAdd() {
        let vocabulary = 50, dim = 40, ids = [3, 7, 3, 49, 0, 7, 7]
        let table = random([vocabulary, dim], seed: 3)
        let r = random([ids.count, dim], seed: 4, requiresGrad: false)
        let y = embedding(table, ids: ids)
        weightedSum(y, r).backward()
        var out = [Float](repeating: .nan, count: ids.count * dim), dtable = [Float](repeating: 0, count: vocabulary * dim)
        let ids32 = ids.map(Int32.init)
        launched(lf_emulate_embedding_forward(4, 64, &out, table.scalars, ids32, Int32(ids.count), Int32(dim)))
        expectClose(out, y.scalars, "embedding forward")
        launched(lf_emulate_embedding_backward(4, 64, &dtable, r.scalars, ids32, Int32(ids.count), Int32(dim)))
        expectClose(dtable, table.gradScalars!, "embedding backward")
    }

    @Test func rmsNormForwardAndBackward() {
        let rows = 5, cols = 576, eps: Float = 1e-5  // SmolLM2's width: 4.5 warps of 128 threads
        let x = random([rows, cols], seed: 5), weight = random([cols], seed: 6)
        let r = random([rows, cols], seed: 7, requiresGrad: false)
        let y = rmsNorm(x, weight: weight, eps: eps)
        weightedSum(y, r).backward()
        var out = [Float](repeating: .nan, count: rows * cols), rstd = [Float](repeating: .nan, count: rows)
        launched(lf_emulate_rmsnorm_forward(Int32(rows), 128, &out, &rstd, x.scalars, weight.scalars, Int32(cols), eps))
        expectClose(out, y.scalars, "rmsnorm forward")
        var dx = [Float](repeating: .nan, count: rows * cols), dweight = [Float](repeating: 0, count: cols)
        launched(lf_emulate_rmsnorm_backward(Int32(rows), 96, &dx, &dweight, r.scalars, x.scalars, weight.scalars, rstd, Int32(cols)))
        expectClose(dx, x.gradScalars!, "rmsnorm backward (x)")
        expectClose(dweight, weight.gradScalars!, "rmsnorm backward (weight)")
    }

    @Test func swiGLUForwardAndBackward() {
        let n = 777
        let gate = random([n], seed: 8, std: 3), up = random([n], seed: 9), r = random([n], seed: 10, requiresGrad: false)
        let y = swiGLU(gate: gate, up: up)
        weightedSum(y, r).backward()
        var out = [Float](repeating: .nan, count: n), dgate = out, dup = out
        launched(lf_emulate_swiglu_forward(2, 128, &out, gate.scalars, up.scalars, Int32(n)))
        expectClose(out, y.scalars, "swiglu forward")
        launched(lf_emulate_swiglu_backward(2, 128, &dgate, &dup, r.scalars, gate.scalars, up.scalars, Int32(n)))
        expectClose(dgate, gate.gradScalars!, "swiglu backward (gate)")
        expectClose(dup, up.gradScalars!, "swiglu backward (up)")
    }

    @Test func ropeForwardAndBackward() {
        let tokens = 6, heads = 3, headDim = 64, base: Float = 100_000, positions = [0, 1, 2, 7, 100, 1023]
        let x = random([tokens, heads * headDim], seed: 11), r = random([tokens, heads * headDim], seed: 12, requiresGrad: false)
        let y = rope(x, heads: heads, positions: positions, base: base)
        weightedSum(y, r).backward()
        var out = [Float](repeating: .nan, count: tokens * heads * headDim), dx = out
        let positions32 = positions.map(Int32.init)
        launched(lf_emulate_rope(2, 128, &out, x.scalars, positions32, Int32(tokens), Int32(heads), Int32(headDim), base, 1))
        expectClose(out, y.scalars, "rope forward")
        launched(lf_emulate_rope(2, 128, &dx, r.scalars, positions32, Int32(tokens), Int32(heads), Int32(headDim), base, -1))
        expectClose(dx, x.gradScalars!, "rope backward")
    }

    @Test func softmaxCrossEntropyWithItsGradient() {
        let rows = 4, vocabulary = 1000, targets = [5, -100, 999, 0]
        let logits = random([rows, vocabulary], seed: 13, std: 4)
        let loss = crossEntropy(logits, targets: targets)
        loss.backward()
        let counted = targets.filter { $0 >= 0 }.count
        var losses = [Float](repeating: .nan, count: rows), dlogits = [Float](repeating: .nan, count: rows * vocabulary)
        launched(lf_emulate_softmax_cross_entropy(Int32(rows), 256, &losses, &dlogits, logits.scalars, targets.map(Int32.init),
                                                  Int32(vocabulary), 1 / Float(counted)))
        expectClose([losses.reduce(0, +) / Float(counted)], loss.scalars, "cross-entropy (mean)")
        #expect(losses[1] == 0)
        expectClose(dlogits, logits.gradScalars!, "cross-entropy gradient")
    }

    @Test func adamWAsTheEngineSteps() {
        let n = 3001
        let g = random([n], seed: 14, requiresGrad: false).scalars
        var w = random([n], seed: 15, requiresGrad: false).scalars, m = random([n], seed: 16, std: 0.1, requiresGrad: false).scalars
        var v = random([n], seed: 17, std: 0.1, requiresGrad: false).scalars.map(abs)
        var (wCPU, mCPU, vCPU) = (w, m, v)
        let (decay, beta1, beta2, step, c2, eps): (Float, Float, Float, Float, Float, Float) = (1 - 1e-3 * 0.01, 0.9, 0.999, 1e-3 / 0.19, 0.0447, 1e-8)
        lf_adamw_update(&wCPU, g, &mCPU, &vCPU, n, decay, beta1, beta2, step, c2, eps)
        launched(lf_emulate_adamw(4, 256, &w, g, &m, &v, Int32(n), decay, beta1, beta2, step, c2, eps))
        expectClose(w, wCPU, "adamw weights")
        expectClose(m, mCPU, "adamw first moment")
        expectClose(v, vCPU, "adamw second moment")
    }

    /// Causal attention probabilities with left padding (sequence 1's first two tokens are padding),
    /// against the engine's softmax of the scaled scores with the invisible keys at −∞.
    @Test func maskedSoftmaxForwardAndBackward() {
        let batch = 2, heads = 3, T = 37, scale: Float = 0.125
        let keyMask = (0..<batch).flatMap { b in (0..<T).map { j in b == 1 && j < 2 ? UInt8(0) : 1 } }
        let rows = batch * heads * T
        func visible(_ row: Int, _ j: Int) -> Bool { j <= row % T && keyMask[row / T / heads * T + j] == 1 }
        let scores = random([rows, T], seed: 18, std: 3, requiresGrad: false).scalars
        let dp = random([rows, T], seed: 19, requiresGrad: false)
        let live = (0..<rows).filter { row in (0..<T).contains { visible(row, $0) } }
        let masked = Tensor(live.flatMap { row in (0..<T).map { j in visible(row, j) ? scale * scores[row * T + j] : -Float.infinity } },
                            shape: [live.count, T], requiresGrad: true)
        let expected = softmax(masked)
        weightedSum(expected, Tensor(live.flatMap { Array(dp.scalars[($0 * T)..<(($0 + 1) * T)]) }, shape: [live.count, T])).backward()

        var p = [Float](repeating: .nan, count: rows * T), dscores = p
        launched(lf_emulate_masked_softmax_forward(Int32(rows), 32, &p, scores, keyMask, Int32(T), Int32(heads), scale))
        expectClose(live.flatMap { Array(p[($0 * T)..<(($0 + 1) * T)]) }, expected.scalars, "masked softmax forward")
        #expect(Set(0..<rows).subtracting(live).allSatisfy { row in p[(row * T)..<((row + 1) * T)].allSatisfy { $0 == 0 } },
                "rows with no visible key are all zeros")
        launched(lf_emulate_masked_softmax_backward(Int32(rows), 64, &dscores, p, dp.scalars, Int32(T), scale))
        // d/dscores = scale · d/d(masked input); the engine's gradient at −∞ entries is 0, as ours.
        expectClose(live.flatMap { Array(dscores[($0 * T)..<(($0 + 1) * T)]) }, masked.gradScalars!.map { $0 * scale },
                    "masked softmax backward")
    }
}
