import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels
import Testing

/// Tiny GPT-2 and Llama models with random weights against PyTorch + transformers: logits, loss,
/// every gradient and two AdamW steps (see scripts/make_fixtures.py).
@Suite struct ParityTests {
    static let tolerance: Float = 1e-4

    @Test(arguments: ["tiny-gpt2", "tiny-llama", "tiny-qwen2"])
    func forwardBackwardAndAdamWMatchPyTorch(model name: String) throws {
        let model = try DecoderLM(huggingFaceDirectory: Fixture.path(name))
        let expected = try SafetensorsFile(path: Fixture.path("\(name)/expected.safetensors"))
        let ids = try expected.integers("ids"), mask = try expected.integers("mask").map { $0 != 0 }
        let shape = expected.entry("ids")!.shape
        let batch = TokenBatch(ids: ids, batchSize: shape[0], length: shape[1], mask: mask.allSatisfy { $0 } ? nil : mask)

        let logits = noGrad { model.logits(batch) }
        let logitsError = relativeError(logits.scalars, try expected.tensor("logits").scalars)
        #expect(logitsError <= Self.tolerance, "logits relative error \(logitsError)")

        let loss = model.languageModelingLoss(batch)
        let lossError = relativeError([loss.item], try expected.tensor("loss").scalars)
        #expect(lossError <= Self.tolerance, "loss \(loss.item) relative error \(lossError)")

        loss.backward()
        try expectGradients(of: model, equal: "grad.", in: expected)

        // AdamW is checked on PyTorch's own gradients: at step 1 Adam's update g / (|g| + ε) is
        // ill-conditioned for gradients that are zero up to rounding (GPT-2's key bias, whose true
        // gradient is exactly 0), so feeding it our gradients would compare rounding noise.
        let optimizer = AdamW(parameters: model.parameters, learningRate: 1e-2, weightDecay: 0.1)
        for step in 1...2 {
            if step == 2 {  // our backward again, at the weights after one step
                optimizer.zeroGrad()
                model.languageModelingLoss(batch).backward()
                try expectGradients(of: model, equal: "grad2.", in: expected)
            }
            for (paramName, p) in model.namedParameters {
                p.setGradient(try expected.tensor((step == 1 ? "grad." : "grad2.") + paramName).scalars)
            }
            clipGradientNorm(model.parameters, maxNorm: 1)
            optimizer.step()
            for (paramName, p) in model.namedParameters {
                let error = relativeError(p.scalars, try expected.tensor("step\(step).\(paramName)").scalars)
                #expect(error <= Self.tolerance, "\(paramName) after AdamW step \(step): relative error \(error)")
            }
        }
    }

    func expectGradients(of model: DecoderLM, equal prefix: String, in expected: SafetensorsFile) throws {
        for (paramName, p) in model.namedParameters {
            let error = relativeError(p.gradScalars ?? [], try expected.tensor(prefix + paramName).scalars)
            #expect(error <= Self.tolerance, "\(prefix)\(paramName): relative error \(error)")
        }
    }

    @Test func weightedCrossEntropyAndDistillationMatchPyTorch() throws {
        let cases = try SafetensorsFile(path: Fixture.path("losses.safetensors"))
        let logits = try cases.tensor("ce.logits")
        logits.requiresGrad = true
        let targets = try cases.integers("ce.targets"), classWeights = try cases.tensor("ce.class_weights").scalars
        let loss = crossEntropy(logits, targets: targets, weights: targets.map { $0 < 0 ? 0 : classWeights[$0] })
        #expect(relativeError([loss.item], try cases.tensor("ce.loss").scalars) <= Self.tolerance)
        loss.backward()
        #expect(relativeError(logits.gradScalars!, try cases.tensor("ce.grad").scalars) <= Self.tolerance)

        let student = try cases.tensor("kl.student")
        student.requiresGrad = true
        let kl = klDivergence(student: student, teacher: try cases.tensor("kl.teacher"), temperature: 2)
        #expect(relativeError([kl.item], try cases.tensor("kl.loss").scalars) <= Self.tolerance)
        kl.backward()
        let klGradError = relativeError(student.gradScalars!, try cases.tensor("kl.grad").scalars)
        #expect(klGradError <= Self.tolerance, "KL gradient relative error \(klGradError)")
    }

    @Test func savedModelReloadsIdentically() throws {
        let model = try DecoderLM(huggingFaceDirectory: Fixture.path("tiny-llama"))
        let path = NSTemporaryDirectory() + "reload-\(getpid()).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.save(to: path)
        let copy = DecoderLM(config: model.config, seed: 1)
        try copy.load(TensorCheckpoint(files: [SafetensorsFile(path: path)]))
        for ((_, a), (_, b)) in zip(model.namedParameters, copy.namedParameters) { #expect(a.scalars == b.scalars) }
    }

    @Test func checkpointProblemsNameTheTensor() throws {
        let model = try DecoderLM(huggingFaceDirectory: Fixture.path("tiny-llama"))
        let smaller = DecoderLM(config: DecoderConfig(architecture: .llama, vocabSize: 64, hiddenSize: 32, layerCount: 1,
                                                      headCount: 4, kvHeadCount: 2, intermediateSize: 64,
                                                      tieWordEmbeddings: false), seed: 0)
        let path = NSTemporaryDirectory() + "one-layer-\(getpid()).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try smaller.save(to: path)
        #expect { try model.load(TensorCheckpoint(files: [SafetensorsFile(path: path)])) } throws: { error in
            "\(error)".contains("missing parameter 'model.layers.1.input_layernorm.weight'")
        }
        #expect { try DecoderConfig.huggingFace(configAt: Fixture.path("losses.safetensors")) } throws: { error in
            "\(error)".contains("losses.safetensors: line 1, column 1: not valid JSON (RFC 8259)")
        }
    }
}
