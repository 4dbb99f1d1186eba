import Foundation
import LifelongEngine
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

/// L2KD's Word-KD objective on a padded batch mixing real examples and a pseudo-sample, against
/// PyTorch (scripts/make_kd_fixture.py): the loss, its hard and KD parts, every student gradient.
@Suite struct WordKDTests {
    @Test func wordKDObjectiveMatchesPyTorch() throws {
        let student = try DecoderLM(huggingFaceDirectory: Fixture.path("tiny-gpt2"))
        let teacher = try DecoderLM(huggingFaceDirectory: Fixture.path("kd-teacher"))
        let expected = try SafetensorsFile(path: Fixture.path("word-kd.safetensors"))
        let length: Int = expected.entry("ids")!.shape[1]
        let ids: [Int] = try expected.integers("ids"), mask: [Int] = try expected.integers("mask")
        let targets: [Int] = try expected.integers("targets"), real: [Int] = try expected.integers("real")
        let weights: [Float] = try expected.tensor("weights").scalars
        var items: [TrainingItem] = []
        for b in 0..<3 {
            let n = mask[(b * length)..<((b + 1) * length)].filter { $0 != 0 }.count
            let row = (b * length)..<(b * length + n)
            let sequence = TrainingSequence(tokens: Array(ids[row]), targets: Array(targets[row]), weights: Array(weights[row]))
            items.append(TrainingItem(qa: sequence, lm: nil, origin: real[b] == 1 ? .current : .pseudo))
        }
        let batch = TrainingBatch(items, padToken: 63)
        #expect(batch.qa.tokens.ids == ids && batch.qa.targets == targets, "the batch is padded as in the fixture")

        let terms = L2KD.wordKDObjective(batch, model: student, teacher: teacher, temperature: 2, lmWeight: 0.25)
        #expect(terms.map { $0.name } == ["qa_loss", "kd_qa_loss"])
        func part(_ name: String) -> Float {
            guard let term = terms.first(where: { $0.name == name }) else { return .nan }
            return term.value.item * term.weight
        }
        let tolerance: Float = 1e-4
        #expect(relativeError([part("qa_loss")], try expected.tensor("hard").scalars) <= tolerance)
        #expect(relativeError([part("kd_qa_loss")], try expected.tensor("kd").scalars) <= tolerance)
        let total = add(scale(terms[0].value, terms[0].weight), scale(terms[1].value, terms[1].weight))
        #expect(relativeError([total.item], try expected.tensor("loss").scalars) <= tolerance)
        total.backward()
        for (name, p) in student.namedParameters {
            let error = relativeError(p.gradScalars ?? [], try expected.tensor("grad.\(name)").scalars)
            #expect(error <= tolerance, "gradient of \(name): relative error \(error)")
        }
        #expect(teacher.parameters.allSatisfy { $0.grad == nil }, "the teacher gets no gradient")
    }
}
