import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels
import Testing

/// What `lifelong export` writes, read back by our own readers (scripts/export_check.py reads it
/// with transformers, peft, gguf and llama.cpp): GGUF files, tokenizer files, Mixtral directories.
@Suite struct ExportFormatTests {
    func temporary(_ name: String) -> String {
        NSTemporaryDirectory() + "export-format-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))"
    }

    @Test func ggufWriterRoundTripsKeysAndEveryStorage() throws {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        writer.set("a.u32", .uint32(4_000_000_000)); writer.set("a.i32", .int32(-7)); writer.set("a.f32", .float32(1e-5))
        writer.set("a.bool", .bool(true)); writer.set("a.strings", .strings(["x", "", "Ġthe"])); writer.set("a.ints", .int32s([1, -2]))
        var rng = SeededGenerator(seed: 3)
        let matrix = (0..<(4 * 64)).map { _ in rng.nextGaussian() * 3 }, odd = (0..<(2 * 33)).map { _ in rng.nextGaussian() }
        let norm = (0..<64).map { _ in rng.nextGaussian() }
        for storage in GGUFWriter.Storage.allCases {
            writer.add("m.\(storage)", shape: [4, 64], values: matrix, storage: storage)
        }
        writer.add("odd", shape: [2, 33], values: odd, storage: .q8_0)   // rows not a multiple of 32: f16
        writer.add("norm", shape: [64], values: norm, storage: .q8_0)    // 1-D: f32 always
        let path = temporary("rt") + ".gguf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writer.write(to: path)

        let file = try GGUFFile(path: path)
        #expect(file.version == 3 && file.metadata["general.architecture"]?.string == "llama")
        #expect(file.metadata["a.u32"] == .unsigned(4_000_000_000) && file.metadata["a.i32"] == .signed(-7))
        #expect(file.metadata["a.f32"]?.double == Double(Float(1e-5)) && file.metadata["a.bool"] == .bool(true))
        #expect(file.metadata["a.strings"] == .array([.string("x"), .string(""), .string("Ġthe")]))
        #expect(file.metadata["a.ints"] == .array([.signed(1), .signed(-2)]))
        #expect(file.info("m.f32")?.type == .f32 && file.info("m.f16")?.type == .f16 && file.info("m.q8_0")?.type == .q8_0)
        #expect(file.info("odd")?.type == .f16 && file.info("norm")?.type == .f32 && file.info("m.q8_0")?.shape == [4, 64])
        #expect(try file.tensor("m.f32").scalars == matrix)
        #expect(try file.tensor("norm").scalars == norm)
        #expect(try file.tensor("m.f16").scalars == matrix.map { Float(Float16($0)) })
        // Q8_0: every value within half a step of its block's scale d = max|x| / 127.
        let q8 = try file.tensor("m.q8_0").scalars
        for block in 0..<(matrix.count / 32) {
            let range = (block * 32)..<((block + 1) * 32), step = matrix[range].map(abs).max()! / 127
            #expect(zip(q8[range], matrix[range]).allSatisfy { abs($0 - $1) <= step * 0.5 + step * 1e-3 })
        }
    }

    /// tokenizer.json written from a tokenizer (the GPT-2 fixture plus task tokens) reads back to
    /// the same vocabulary, merges, special tokens and ids on the tokenizer corpus.
    @Test func tokenizerJSONRoundTrips() throws {
        let base = try ByteLevelBPETokenizer.gpt2(vocabJSON: Fixture.path("bpe-gpt2/vocab.json"), mergesTXT: Fixture.path("bpe-gpt2/merges.txt"))
        let tokenizer = base.adding(specialTokens: ["__ans__", "__sst__"])
        let path = temporary("tok") + ".json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writeAtomically(try tokenizer.huggingFaceJSON(), to: path)
        let read = try ByteLevelBPETokenizer.huggingFace(tokenizerJSON: path)
        #expect(read.tokens == tokenizer.tokens && read.specialTokens == tokenizer.specialTokens)
        #expect(read.merges.map { "\($0.0) \($0.1)" } == tokenizer.merges.map { "\($0.0) \($0.1)" })
        for text in BPEFileTests.texts + ["a review __ans__ positive", "__sst__great"] {
            #expect(read.encode(text) == tokenizer.encode(text), "\(text.debugDescription)")
        }
        #expect(read.encode("x __ans__") == tokenizer.encode("x ") + [tokenizer.specialTokens["__ans__"]!])
    }

    /// The byte tokenizer's export form gives its ids: one token per byte, no merges.
    @Test func byteTokenizerHasAByteLevelForm() throws {
        let bytes = try ByteLevelBPETokenizer.bytes(), text = "héllo, wörld 12 \n\t!"
        #expect(bytes.encode(text) == ByteTokenizer().encode(text) && bytes.decode(bytes.encode(text)) == text)
        #expect(bytes.vocabularySize == ByteTokenizer().vocabularySize && bytes.eosToken == ByteTokenizer().endOfText)
    }

    /// A Llama with mixtures of experts (one block dense) exports as Mixtral and reads back to the
    /// same logits; a capacity factor or another family is refused with the reason.
    @Test func mixtureModelsLeaveAsMixtralAndComeBack() throws {
        let config = DecoderConfig(architecture: .llama, vocabSize: 40, hiddenSize: 16, layerCount: 2, headCount: 2,
                                   intermediateSize: 24, maxPositions: 32, tieWordEmbeddings: false)
        let model = DecoderLM(config: config, seed: 5)
        var rng: SeededGenerator? = SeededGenerator(seed: 6)
        let mixtures = model.installMixturesOfExperts(every: 2, experts: 3, topK: 2, capacityFactor: nil, rng: &rng)
        mixtures[0].grow(1, copying: mixtures[0].experts[0], routerStd: 0.5, rng: &rng)
        let exported = try model.huggingFaceExport()
        #expect(exported.config["model_type"] as? String == "mixtral" && exported.config["num_local_experts"] as? Int == 4)
        let directory = temporary("mixtral")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeAtomically(try JSONSerialization.data(withJSONObject: exported.config), to: directory + "/config.json")
        try SafetensorsFile.write(exported.tensors, to: directory + "/model.safetensors")
        let back = try DecoderLM(huggingFaceDirectory: directory)
        let batch = TokenBatch(rows: [[1, 5, 9, 2, 33, 7], [3, 3, 8, 0, 12, 39]])
        let (ours, theirs) = noGrad { (model.logits(batch).scalars, back.logits(batch).scalars) }
        #expect(relativeError(theirs, ours) < 1e-6)

        mixtures[0].capacityFactor = 1.25
        #expect(throws: RequestError.self) { try model.huggingFaceExport() }
        let gpt2 = DecoderLM(config: DecoderConfig(architecture: .gpt2, vocabSize: 40, hiddenSize: 16, layerCount: 2, headCount: 2,
                                                   maxPositions: 32), seed: 1)
        var none: SeededGenerator? = nil
        _ = gpt2.installMixturesOfExperts(every: 1, experts: 2, topK: 1, capacityFactor: nil, rng: &none)
        #expect(throws: RequestError.self) { try gpt2.huggingFaceExport() }
        #expect(throws: RequestError.self) { try model.ggufExport(storage: .f32, name: "x") }
    }

    /// A Llama (q and k rows in llama.cpp's order), a Qwen2 (with its q/k/v biases) or a GPT-2 (Conv1D
    /// weights transposed, learned positions, LayerNorm biases) written as GGUF loads back to the
    /// same weights and logits.
    @Test(arguments: [DecoderConfig.Architecture.llama, .qwen2, .gpt2])
    func everyFamilyLeavesAsGGUFAndComesBack(architecture: DecoderConfig.Architecture) throws {
        let rotary = architecture != .gpt2
        let config = DecoderConfig(architecture: architecture, vocabSize: 300, hiddenSize: 64, layerCount: 2, headCount: 4,
                                   kvHeadCount: rotary ? 2 : nil, intermediateSize: 96, maxPositions: 64,
                                   ropeTheta: rotary ? 50_000 : 10_000, tieWordEmbeddings: true)
        let model = DecoderLM(config: config, seed: 9)
        var rng = SeededGenerator(seed: 10)
        for (name, tensor) in model.namedParameters where name.hasSuffix(".bias") {  // Qwen2's biases start at zero
            for i in 0..<tensor.count { tensor.data[i] = rng.nextGaussian() }
        }
        var writer = try model.ggufExport(storage: .f32, name: "test")
        for (key, value) in try ByteLevelBPETokenizer.bytes().ggufMetadata(addedFrom: 257, vocabularySize: 300) { writer.set(key, value) }
        let path = temporary(architecture.rawValue) + ".gguf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writer.write(to: path)
        let back = try DecoderLM(gguf: path)
        #expect(back.config == model.config)
        for ((name, a), (_, b)) in zip(model.namedParameters, back.namedParameters) { #expect(a.scalars == b.scalars, "\(name)") }
        let batch = TokenBatch(rows: [[1, 5, 9, 2, 33, 7]])
        #expect(noGrad { back.logits(batch).scalars == model.logits(batch).scalars })
        let tokenizer = try ByteLevelBPETokenizer.gguf(GGUFFile(path: path))
        #expect(tokenizer.vocabularySize == 300 && tokenizer.encode("abc") == [97, 98, 99])
    }
}
