import ArgumentParser
import Foundation
import LifelongEngine

/// Benchmarks. `matmul`: GFLOP/s of the engine's linear layer next to raw cblas_sgemm, at the
/// shapes of SmolLM2-135M (d = 576) with a batch of 8 × 128 tokens.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure the engine's speed.")

    @Argument(help: "Workload: matmul.") var workload: String
    @OptionGroup var compute: ComputeOptions
    @Option(help: "Timed repetitions (the median is reported).") var repeats = 9

    func run() throws {
        try compute.apply()
        guard workload == "matmul" else { throw ValidationError("unknown workload '\(workload)' (available: matmul)") }
        let tokens = 1024
        let shapes: [(String, Int, Int)] = [  // (layer, in, out)
            ("q_proj/o_proj", 576, 576), ("k_proj/v_proj", 576, 192), ("gate/up_proj", 576, 1536),
            ("down_proj", 1536, 576), ("lm_head", 576, 49152),
        ]
        print("| layer | tokens × in → out | raw sgemm GFLOP/s | engine linear GFLOP/s | engine fwd+bwd GFLOP/s |")
        print("|---|---|---|---|---|")
        var rng = SeededGenerator(seed: 1)
        for (name, inFeatures, outFeatures) in shapes {
            let x = Tensor(randomNormal: [tokens, inFeatures], std: 1, rng: &rng)
            let w = Tensor(randomNormal: [outFeatures, inFeatures], std: 0.02, rng: &rng, requiresGrad: true)
            let y = Tensor(zeros: [tokens, outFeatures])
            let flops = 2.0 * Double(tokens * inFeatures * outFeatures)

            let raw = median(repeats) {
                BLAS.gemm(transB: true, m: tokens, n: outFeatures, k: inFeatures, a: x.data.baseAddress!, lda: inFeatures,
                          b: w.data.baseAddress!, ldb: inFeatures, c: y.data.baseAddress!, ldc: outFeatures)
            }
            let forward = median(repeats) { _ = noGrad { linear(x, w) } }
            x.requiresGrad = true
            let training = median(repeats) {
                x.zeroGrad(); w.zeroGrad()
                sum(linear(x, w)).backward()
            }
            x.requiresGrad = false
            let gflops = [flops / raw, flops / forward, 3 * flops / training].map { $0 / 1e9 }
            print(String(format: "| %@ | %d × %d → %d | %.1f | %.1f | %.1f |", name, tokens, inFeatures, outFeatures,
                         gflops[0], gflops[1], gflops[2]))
            let json = #"{"workload": "matmul", "layer": "\#(name)", "m": \#(tokens), "k": \#(inFeatures), "n": \#(outFeatures), "#
                + String(format: #""sgemm_gflops": %.2f, "linear_gflops": %.2f, "linear_fwd_bwd_gflops": %.2f, "threads": %d, "blas": "%@"}"#,
                         gflops[0], gflops[1], gflops[2], Parallel.threads, BLAS.name)
            FileHandle.standardError.write((json + "\n").data(using: .utf8)!)
        }
    }

    /// Median wall time of `body` in seconds, after one warm-up call.
    func median(_ runs: Int, _ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        for _ in 0..<max(1, runs) {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }
}
