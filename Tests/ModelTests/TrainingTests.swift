import LifelongEngine
import LifelongFormats
import LifelongModels
import Testing

@Suite struct TrainingTests {
    static let sentences = [
        "the cat sat on the mat.",
        "a dog ran in the park!",
        "birds sing at dawn...",
        "rain falls on the sea.",
    ]

    static func batch() -> TokenBatch {
        let tokenizer = ByteTokenizer()
        let rows = sentences.map { tokenizer.encode($0) + [tokenizer.endOfText] }
        let length = rows.map(\.count).max()!
        let padded = rows.map { $0 + [Int](repeating: tokenizer.endOfText, count: length - $0.count) }
        let mask = rows.flatMap { row in (0..<length).map { $0 < row.count } }
        return TokenBatch(ids: padded.flatMap { $0 }, batchSize: rows.count, length: length, mask: mask)
    }

    static func tinyModel(_ architecture: DecoderConfig.Architecture) -> DecoderLM {
        DecoderLM(config: DecoderConfig(architecture: architecture, vocabSize: 257, hiddenSize: 48, layerCount: 2,
                                        headCount: 4, kvHeadCount: architecture == .llama ? 2 : nil,
                                        intermediateSize: 96, maxPositions: 32), seed: 1)
    }

    @Test(arguments: [DecoderConfig.Architecture.gpt2, .llama])
    func tinyModelMemorisesSentences(_ architecture: DecoderConfig.Architecture) {
        let model = Self.tinyModel(architecture), batch = Self.batch()
        let optimizer = AdamW(parameters: model.parameters, learningRate: 1e-2, weightDecay: 0.01)
        let first = model.trainStep(on: batch, optimizer: optimizer)
        var last = first
        for _ in 0..<150 { last = model.trainStep(on: batch, optimizer: optimizer) }
        #expect(first > 5)   // ≈ ln 257 at initialisation
        #expect(last < 0.1, "loss only fell from \(first) to \(last)")
        let tokenizer = ByteTokenizer()
        let continuation = model.greedyContinuation(of: tokenizer.encode("a dog"), maxNewTokens: 30, stopToken: tokenizer.endOfText)
        #expect(tokenizer.decode(continuation) == " ran in the park!")
    }

    @Test func sameSeedGivesBitIdenticalTraining() {
        func run() -> [[Float]] {
            let model = Self.tinyModel(.llama)
            let optimizer = AdamW(parameters: model.parameters, learningRate: 1e-2, weightDecay: 0.01)
            for _ in 0..<3 { model.trainStep(on: Self.batch(), optimizer: optimizer) }
            return model.parameters.map(\.scalars)
        }
        #expect(run() == run())
    }
}
