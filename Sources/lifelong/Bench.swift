import ArgumentParser
import Foundation
import LifelongEngine
import LifelongModels

/// Benchmarks with the shapes of `../shared/bench/torch_reference.py`, printing one JSON line.
///   train-tiny     full training step (forward, backward, AdamW), tiny Llama, batch 16 × 128
///   train-moe-tiny the same step for a tiny Mixtral: every layer a mixture of 8 SwiGLU experts
///                  (ffn 384), top-2, load-balancing loss 0.01 (the mean over the layers), batch 16 × 128
///   train-smollm2  full training step, SmolLM2-135M, batch 8 × 128
///   distill-smollm2  L2KD's Word-KD step: SmolLM2 student (forward, backward, AdamW) and a frozen
///                  SmolLM2 teacher's forward (fp32, inference mode), T²·KL at every position, T = 2, batch 8 × 128
///   train-lora-smollm2  SLM's training step: SmolLM2 frozen, a rank-8 increment (scale 1) on every
///                  layer's o_proj, only the increments train (AdamW); batch 8 × 128
///   gen-slm        SLM's decoding: 32 prompts, each with its own retrieval (query embedding with
///                  all-MiniLM-L6-v2, similarity to 20 slots' keys, top 2) and its own mixture of
///                  rank-8 increments on every o_proj, 64 greedy tokens; beside plain batched
///                  decoding of the same prompts, alternating, median of `repeats` rounds
///   gen-batch      top-k 20 sampling with the KV cache, SmolLM2-135M, 32 sequences × 64 new tokens
///   gen-single     the same, 1 sequence × 128 new tokens
///   load           time to open the model file and dequantise it (median of `repeats`)
///   matmul         GFLOP/s of the engine's linear layer next to raw sgemm at SmolLM2 shapes, and of
///                  the Q4_1 kernel next to sgemm at gen-single's 1 row and gen-batch's 32
///   sgemm          the machine's fp32 limit: GFLOP/s of one large square sgemm on all threads
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure the engine's speed on the reference workloads.")

    @Argument(help: "train-tiny, train-moe-tiny, train-smollm2, distill-smollm2, train-lora-smollm2, gen-slm, gen-batch, gen-single, load, matmul or sgemm.") var workload: String
    @OptionGroup var compute: ComputeOptions
    @Option(help: "A GGUF file, a Hugging Face directory or a cached name, for the SmolLM2 workloads.")
    var model = "smollm2-135m"
    @Flag(help: "Generate with fp32 weights even when the GGUF file is quantised.") var fp32 = false
    @Option(parsing: .unconditional, help: "Timed training steps after one warm-up step (their mean is reported).") var steps = 3
    @Option(parsing: .unconditional, help: "Timed repetitions for matmul and load (the median is reported).") var repeats = 5

    func validate() throws {
        guard (1...10_000).contains(steps) else { throw ValidationError("--steps must be in 1…10000, not \(steps)") }
        guard (1...10_000).contains(repeats) else { throw ValidationError("--repeats must be in 1…10000, not \(repeats)") }
    }

    func run() throws {
        try compute.apply()
        switch workload {
        case "train-tiny":
            let config = DecoderConfig(architecture: .llama, vocabSize: 8192, hiddenSize: 128, layerCount: 4, headCount: 4,
                                       kvHeadCount: 2, intermediateSize: 384, maxPositions: 512, tieWordEmbeddings: true)
            try train(DecoderLM(config: config, seed: 0), batchSize: 16, length: 128)
        case "train-moe-tiny":
            let config = DecoderConfig(architecture: .llama, vocabSize: 8192, hiddenSize: 128, layerCount: 4, headCount: 4,
                                       kvHeadCount: 2, intermediateSize: 384, maxPositions: 512, tieWordEmbeddings: true)
            let model = DecoderLM(config: config, seed: 0)
            var rng: SeededGenerator? = SeededGenerator(seed: 1)
            for block in model.blocks.indices {
                let path = model.feedForwardPath(ofBlock: block)
                try model.replaceModule(at: path, with: MixtureOfExperts(config: config, experts: 8, topK: 2, rng: &rng, path: path))
            }
            try train(model, batchSize: 16, length: 128)
        case "train-smollm2":
            try train(modelOption().loadDecoder(forTraining: true), batchSize: 8, length: 128)
        case "distill-smollm2":
            let option = try modelOption()
            try train(option.loadDecoder(forTraining: true), batchSize: 8, length: 128, teacher: option.loadDecoder(forTraining: true))
        case "train-lora-smollm2":
            let model = try modelOption().loadDecoder(forTraining: true)
            try train(model, batchSize: 8, length: 128, trainable: installIncrements(model, slots: 1))
        case "gen-slm":
            try generateWithRetrieval(modelOption().loadDecoder(forTraining: false))
        case "gen-batch":
            try generate(modelOption().loadDecoder(forTraining: false), sequences: 32, newTokens: 64)
        case "gen-single":
            try generate(modelOption().loadDecoder(forTraining: false), sequences: 1, newTokens: 128)
        case "load":
            let source = try modelOption().source()  // the cache's sha256 check, once
            _ = try source.decoder(keepQuantized: !fp32)  // warm the page cache
            var failure: Error?
            let seconds = median { do { _ = try source.decoder(keepQuantized: !fp32) } catch { failure = error } }
            if let failure { throw failure }
            try report(["seconds": seconds])
        case "matmul":
            matmul()
            quantizedMatmul()
        case "sgemm":
            try sgemmPeak()
        default:
            throw ValidationError("unknown workload '\(workload)' (train-tiny, train-moe-tiny, train-smollm2, distill-smollm2, train-lora-smollm2, gen-slm, gen-batch, gen-single, load, matmul, sgemm)")
        }
    }

    func modelOption() throws -> ModelOption { try ModelOption.parse(["--model", model] + (fp32 ? ["--fp32"] : [])) }

    func report(_ fields: [String: Any]) throws {
        var line = fields
        line["impl"] = "lifelong"
        line["workload"] = workload
        line["threads"] = Parallel.threads
        line["blas"] = BLAS.name
        line["peak_rss_mb"] = peakResidentMegabytes()
        let data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// Rank-8 low-rank mixture layers with `slots` slots on every o_proj, A and B random (a
    /// trained state); returns the slots' parameters.
    func installIncrements(_ model: DecoderLM, slots: Int) throws -> [Tensor] {
        try model.installLowRankMixtures(targets: ["o_proj"], rank: 8)
        var rng: SeededGenerator? = SeededGenerator(seed: 4)
        for layer in model.lowRankMixtureLayers {
            layer.addSlots(slots, rng: &rng)
            for a in layer.a { for i in 0..<a.count { a.data[i] = 0.01 * rng!.nextGaussian() } }
        }
        return model.lowRankMixtureLayers.flatMap { $0.slotParameters(0..<slots) }
    }

    /// A training step on random tokens: the LM loss, or with a `teacher` the Word-KD loss. With
    /// `trainable`, every other parameter is frozen and every row mixes all slots with weight 1
    /// (SLM: the increments alone train).
    func train(_ model: DecoderLM, batchSize: Int, length: Int, teacher: DecoderLM? = nil, trainable: [Tensor]? = nil) throws {
        let conditioning = trainable == nil ? Conditioning.none
            : Conditioning(slotWeights: [Float](repeating: 1, count: batchSize * (model.lowRankMixtureLayers.first?.slotCount ?? 0)))
        let (updated, frozen) = model.parameters(splitBy: trainable)
        var rng = SeededGenerator(seed: 0)
        let batch = TokenBatch(ids: (0..<(batchSize * length)).map { _ in Int(rng.next() % UInt64(model.config.vocabSize)) },
                               batchSize: batchSize, length: length)
        let optimizer = AdamW(parameters: updated, learningRate: 1e-4, weightDecay: 0.01)
        let targets = model.languageModelingTargets(batch)
        func step() {
            GradMode.freezing(frozen) {
                let output = model.forward(batch, conditioning: conditioning)
                var loss: Tensor
                if let teacher {
                    let target = noGrad { teacher.logits(batch) }
                    loss = klDivergence(student: output.logits, teacher: target, temperature: 2)
                } else {
                    loss = crossEntropy(output.logits, targets: targets)
                }
                let aux = output.auxiliaryLosses.map(\.loss)  // mixtures of experts: the load-balancing loss, weight 0.01
                if !aux.isEmpty { loss = add(loss, scale(aux.dropFirst().reduce(aux[0], add), 0.01 / Float(aux.count))) }
                loss.backward()
            }
            optimizer.step()
            optimizer.zeroGrad()
        }
        step()  // warm-up
        let seconds = time { for _ in 0..<steps { step() } } / Double(steps)
        // 6 FLOPs per parameter and token for the student's step, 2 for the teacher's forward.
        let flops = (6.0 * Double(model.parameterCount - idleExpertParameters(model)) + 2.0 * Double(teacher?.parameterCount ?? 0)) * Double(batchSize * length)
        var fields: [String: Any] = ["tokens_per_second": Double(batchSize * length) / seconds, "seconds_per_step": seconds]
        if trainable == nil { fields["gflops"] = flops / seconds / 1e9 } else { fields["trainable_parameters"] = trainable!.reduce(0) { $0 + $1.count } }
        try report(fields)
    }

    /// Parameters of the experts a token does not use (each mixture's experts beyond top-k).
    func idleExpertParameters(_ model: DecoderLM) -> Int {
        model.mixtureOfExpertsLayers.reduce(0) { $0 + $1.experts.dropFirst($1.topK).reduce(0) { $0 + $1.parameterCount } }
    }

    func generate(_ model: DecoderLM, sequences: Int, newTokens: Int) throws {
        let prompts = [[Int]](repeating: [1], count: sequences)
        _ = try model.generate(prompts: prompts, options: GenerationOptions(maxNewTokens: 4, strategy: .sample(topK: 20)))
        var produced = 0
        let seconds = try time {
            let out = try model.generate(prompts: prompts, options: GenerationOptions(maxNewTokens: newTokens, strategy: .sample(topK: 20), seed: 1))
            produced = out.reduce(0) { $0 + $1.count }
        }
        try report(["tokens_per_second": Double(produced) / seconds, "seconds": seconds,
                    "weights": model.quantizedByteCount > 0 ? "quantized" : "fp32",
                    "gflops": 2.0 * Double(model.parameterCount) * Double(produced) / seconds / 1e9])
    }

    /// SLM decoding against plain decoding of the same prompts, alternating, median of `repeats`.
    func generateWithRetrieval(_ model: DecoderLM) throws {
        guard let encoderPath = try ModelCache().verifiedPath(of: "minilm-l6") else {
            throw ValidationError("gen-slm needs the sentence encoder: run `lifelong models pull minilm-l6`")
        }
        let encoder = try SentenceEncoder(directory: encoderPath)
        let (sequences, newTokens, slots) = (32, 64, 20)
        _ = try installIncrements(model, slots: slots)
        var rng = SeededGenerator(seed: 5)
        let texts = (0..<sequences).map { "request \($0): how do I \(["reset my card pin", "cook rice", "fix the sink", "book a car"][$0 % 4])?" }
        let prompts = (0..<sequences).map { _ in (0..<16).map { _ in Int(rng.next() % UInt64(model.config.vocabSize)) } }
        let keys = Tensor(randomNormal: [slots, encoder.encoder.config.hiddenSize], std: 1, rng: &rng)
        let options = GenerationOptions(maxNewTokens: newTokens)
        func plain() throws { _ = try model.generate(prompts: prompts, options: options) }
        func retrieving() throws {
            let queries = texts.flatMap { encoder.embed([$0], batchSize: 1)[0] }  // one text per pass, as SLM embeds
            let similarity = groupedCosineSimilarity(queries: queries, keys: keys, groups: 6).scalars
            var weights = [Float](repeating: 0, count: sequences * slots)
            for n in 0..<sequences {
                let order = (0..<slots).sorted { similarity[n * slots + $0] > similarity[n * slots + $1] }
                for j in order.prefix(2) { weights[n * slots + j] = 0.5 }
            }
            _ = try model.generate(prompts: prompts, options: options, conditioning: Conditioning(slotWeights: weights))
        }
        try plain(); try retrieving()  // warm-up
        var plainSeconds: [Double] = [], slmSeconds: [Double] = []
        for _ in 0..<repeats {
            plainSeconds.append(try time(plain)); slmSeconds.append(try time(retrieving))
        }
        let (p, s) = (plainSeconds.sorted()[repeats / 2], slmSeconds.sorted()[repeats / 2])
        try report(["plain_tokens_per_second": Double(sequences * newTokens) / p, "slm_tokens_per_second": Double(sequences * newTokens) / s,
                    "slm_time_over_plain": s / p, "weights": model.quantizedByteCount > 0 ? "quantized" : "fp32"])
    }

    func matmul() {
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
            let raw = sgemmSeconds(x, w, into: y)
            let forward = median { _ = noGrad { linear(x, w) } }
            x.requiresGrad = true
            let training = median {
                x.zeroGrad(); w.zeroGrad()
                sum(linear(x, w)).backward()
            }
            x.requiresGrad = false
            let gflops = [flops / raw, flops / forward, 3 * flops / training].map { $0 / 1e9 }
            print(String(format: "| %@ | %d × %d → %d | %.1f | %.1f | %.1f |", name, tokens, inFeatures, outFeatures,
                         gflops[0], gflops[1], gflops[2]))
        }
    }

    /// The quantised kernel at the shapes of gen-single (1 row) and gen-batch (32 rows), with Q4_1
    /// weights of random blocks, next to sgemm on the same weights in fp32.
    func quantizedMatmul() {
        print("\n| layer | tokens × in → out | sgemm GFLOP/s | Q4_1 kernel GFLOP/s |")
        print("|---|---|---|---|")
        var rng = SeededGenerator(seed: 2)
        let shapes: [(String, Int, Int)] = [  // (layer, in, out)
            ("q_proj", 576, 576), ("gate/up_proj", 576, 1536), ("down_proj", 1536, 576), ("lm_head", 576, 49152),
        ]
        for tokens in [1, 32] { for (name, inFeatures, outFeatures) in shapes {
            let blockCount = outFeatures * inFeatures / QuantizedMatrix.blockSize
            var bytes = [UInt8](repeating: 0, count: blockCount * QuantizedMatrix.Format.q4_1.blockBytes)
            for b in 0..<blockCount {
                let block = b * QuantizedMatrix.Format.q4_1.blockBytes
                bytes[block + 1] = 0x20                       // d = 2⁻⁷ as fp16
                bytes[block + 3] = 0xA4                       // m = −2⁻⁶ as fp16
                for j in 4..<20 { bytes[block + j] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            let weight = bytes.withUnsafeBytes {
                QuantizedMatrix(format: .q4_1, rows: outFeatures, columns: inFeatures, source: $0)
            }
            let w = weight.dequantized()
            let x = Tensor(randomNormal: [tokens, inFeatures], std: 1, rng: &rng)
            let y = Tensor(zeros: [tokens, outFeatures])
            let flops = 2.0 * Double(tokens * inFeatures * outFeatures)
            let sgemm = sgemmSeconds(x, w, into: y)
            let quantized = median { _ = noGrad { linear(x, weight) } }
            print(String(format: "| %@ | %d × %d → %d | %.1f | %.1f |", name, tokens, inFeatures, outFeatures,
                         flops / sgemm / 1e9, flops / quantized / 1e9))
        } }
    }

    /// Median seconds of raw `cblas_sgemm` for y = x·wᵀ, the engine's linear layout.
    func sgemmSeconds(_ x: Tensor, _ w: Tensor, into y: Tensor) -> Double {
        let (tokens, inFeatures, outFeatures) = (x.shape[0], x.shape[1], w.shape[0])
        return median {
            BLAS.gemm(transB: true, m: tokens, n: outFeatures, k: inFeatures, a: x.data.baseAddress!, lda: inFeatures,
                      b: w.data.baseAddress!, ldb: inFeatures, c: y.data.baseAddress!, ldc: outFeatures)
        }
    }

    /// GFLOP/s of a 2048³ product through `BLAS.gemm`: the ceiling for every other workload.
    func sgemmPeak() throws {
        let n = 2048
        var rng = SeededGenerator(seed: 3)
        let a = Tensor(randomNormal: [n, n], std: 1, rng: &rng), b = Tensor(randomNormal: [n, n], std: 1, rng: &rng)
        let c = Tensor(zeros: [n, n])
        let seconds = median {
            BLAS.gemm(m: n, n: n, k: n, a: a.data.baseAddress!, lda: n, b: b.data.baseAddress!, ldb: n,
                      c: c.data.baseAddress!, ldc: n)
        }
        try report(["seconds": seconds, "gflops": 2.0 * Double(n * n * n) / seconds / 1e9])
    }

    /// Median wall time of `body` over `repeats` runs, after one warm-up call.
    func median(_ body: () -> Void) -> Double {
        body()
        let times = (0..<max(1, repeats)).map { _ in time(body) }.sorted()
        return times[times.count / 2]
    }
}

func time(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Peak resident memory of this process in MB.
func peakResidentMegabytes() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Double(usage.ru_maxrss) / 1024 / 1024  // bytes on macOS
    #endif
}
