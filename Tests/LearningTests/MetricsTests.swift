import Foundation
import LifelongFormats
import LifelongLearning
import LifelongModels
import Testing

@Suite struct MetricsTests {
    @Test func normalisationFollowsSQuAD() {
        #expect(TaskMetrics.normalize("The  Cat, sat!") == "cat sat")
        #expect(TaskMetrics.normalize("An apple a day") == "apple day")
        #expect(TaskMetrics.normalize("  ") == "")
    }

    @Test func exactMatchIsCaseSensitiveNormalisedMatchIsNot() {
        #expect(TaskMetrics.exactMatch(" positive ", ["positive"]))
        #expect(!TaskMetrics.exactMatch("Positive", ["positive"]))
        #expect(TaskMetrics.normalizedExactMatch("The Positive.", ["positive"]))
    }

    @Test func f1HandComputedAndEdgeCases() {
        // prediction "cat sat mat" vs gold "the cat sat on mat" → gold tokens cat sat on mat; common 3
        // precision 3/3, recall 3/4 → F1 = 6/7.
        #expect(abs(TaskMetrics.f1("cat sat mat", ["the cat sat on mat"]) - 6.0 / 7.0) < 1e-12)
        #expect(TaskMetrics.f1("", [""]) == 1)           // both empty after normalisation
        #expect(TaskMetrics.f1("the", ["a"]) == 1)       // articles only: both normalise to empty
        #expect(TaskMetrics.f1("", ["cat"]) == 0)
        #expect(TaskMetrics.f1("dog", ["cat"]) == 0)
        #expect(TaskMetrics.f1("cat cat", ["cat"]) == 2.0 / 3.0)  // repeated tokens count once per gold occurrence
        #expect(TaskMetrics.f1("cat", ["dog", "cat"]) == 1)       // best over gold answers
    }

    @Test func taskScoresAreOnAHundredScale() {
        let examples = [Example(id: "1", context: "", question: "", answers: ["x y"]),
                        Example(id: "2", context: "", question: "", answers: ["c"])]
        #expect(TaskMetrics.score(.em, predictions: ["x y", "z"], examples: examples) == 50)
        let expected: Double = 100 * (2.0 / 3.0 + 1) / 2  // F1("x", "x y") = 2/3, F1("c", "c") = 1
        #expect(TaskMetrics.score(.nf1, predictions: ["x", "c"], examples: examples) == expected)
        // Macro-F1: labels p, n; predictions p p n for golds p n n → F1(p) = 2/3, F1(n) = 2/3.
        let golds = ["p", "n", "n"].map { Example(id: "", context: "", question: "", answers: [$0]) }
        #expect(abs(TaskMetrics.score(.macroF1, predictions: ["p", "p", "n"], examples: golds) - 200.0 / 3) < 1e-9)
    }

    @Test func dialogueStateAccumulatesInformedSlotsPerDialogue() {
        // Dialogue A: turn 0 informs food, turn 1 informs area (requests do not count), turn 2 changes food.
        // Dialogue B: one turn. Examples are given out of order: turns are sorted within a dialogue.
        let gold = [("A", 1, "area: east; phone"), ("A", 0, "food: chinese;"), ("A", 2, "food: thai;"), ("B", 0, "price range: cheap;")]
        let examples = gold.map { Example(id: "\($0.0)\($0.1)", context: "", question: "", answers: [$0.2], dialogue: $0.0, turn: $0.1) }
        // Turn A0 right; A1 informs the area but asks for the address instead (still right: requests
        // are not part of the goal); A2 misses the new food → state {food: chinese, area: east} ≠ gold; B right.
        let predictions = ["area: east; address", "food: chinese;", ";", "Price Range: cheap ;"]
        #expect(TaskMetrics.score(.dsem, predictions: predictions, examples: examples) == 75)
        // A miss is carried along the dialogue: A0 wrong (thai) makes A1 wrong too, until A2 sets the
        // food to thai, which the gold state then has as well.
        #expect(TaskMetrics.score(.dsem, predictions: ["area: east;", "food: thai;", "food: thai;", "price range: cheap;"],
                                  examples: examples) == 50)
        let delta = DialogueAndQueryMetrics.dialogueDelta("food: chinese, area: east; phone, address")
        #expect(delta.inform == ["food": "chinese", "area": "east"] && delta.request == ["phone", "address"])
    }

    @Test func logicalFormIgnoresCaseSpacingAndConditionOrder() {
        let gold = [Example(id: "1", context: "", question: "", answers: ["SELECT COUNT Player FROM table WHERE No. = 3 AND Position = Guard"])]
        #expect(TaskMetrics.score(.lfem, predictions: ["select count  player from table where position = guard and no. = 3"], examples: gold) == 100)
        #expect(TaskMetrics.score(.lfem, predictions: ["SELECT Player FROM table WHERE No. = 3 AND Position = Guard"], examples: gold) == 0)
        #expect(TaskMetrics.score(.lfem, predictions: ["SELECT COUNT Player FROM table WHERE No. = 3"], examples: gold) == 0)
    }

    @Test func rougeAndBleuHandComputed() {
        // LCS("the cat sat on the mat", "the cat is on the mat") = "the cat on the mat" = 5 of 6 tokens each way.
        #expect(abs(GenerationMetrics.rougeL("the cat sat on the mat", ["the cat is on the mat"]) - 5.0 / 6.0) < 1e-12)
        #expect(GenerationMetrics.rougeL("The cat, on the mat.", ["dog"]) == 0)
        #expect(GenerationMetrics.rougeL("x", ["y", "x"]) == 1)  // best reference
        #expect(GenerationMetrics.tokens("A cheap-ish hotel, 3 stars.") == ["a", "cheap", "-", "ish", "hotel", ",", "3", "stars", "."])
        // Reference value from NLTK 3.10.4: corpus_bleu on the same tokens = 94.81208519756274.
        let predictions = ["the cat sat on the mat .", "there is a cheap hotel in the north"]
        let references = [["the cat is on the mat .", "a cat sat on the mat ."],
                          ["there is a cheap hotel in the north part of town", "a cheap hotel is in the north"]]
        #expect(abs(GenerationMetrics.bleu(predictions, references) - 94.81208519756274) < 1e-9)
        // Brevity penalty: one 4-token prediction against an 8-token reference it matches exactly at the start.
        let short = GenerationMetrics.bleu(["a b c d"], [["a b c d e f g h"]])
        #expect(abs(short - 100 * exp(1 - 8.0 / 4.0)) < 1e-9)
        #expect(GenerationMetrics.bleu(["a b"], [["a b"]]) == 0)  // no 3- or 4-grams: BLEU-4 is 0
    }

    /// A generation task's evaluation reports corpus BLEU of the same predictions beside its
    /// ROUGE-L (the NLTK reference case above, decoded by a predictor that writes fixed texts).
    @Test func generationIsScoredWithBleuBesideRouge() throws {
        struct FixedPredictor: AnswerPredictor {
            let tokenizer: TaskTokenizer, texts: [String: String]
            func answers(prompts: [[Int]], examples: ArraySlice<Example>, of task: TaskData, options: GenerationOptions) throws -> [[Int]] {
                examples.map { tokenizer.encode(texts[$0.id]!) }
            }
        }
        let predictions = ["the cat sat on the mat .", "there is a cheap hotel in the north"]
        let references = [["the cat is on the mat .", "a cat sat on the mat ."],
                          ["there is a cheap hotel in the north part of town", "a cheap hotel is in the north"]]
        let examples = zip(predictions.indices, references).map { Example(id: "e\($0)", context: "mr \($0)", question: "text?", answers: $1) }
        let task = TaskData(name: "nlg", metric: .rougeL, train: [], test: examples)
        let tokenizer = TaskTokenizer(base: ByteTokenizer())
        let predictor = FixedPredictor(tokenizer: tokenizer, texts: ["e0": predictions[0], "e1": predictions[1]])
        let result = try AnswerEvaluator(tokenizer: tokenizer).evaluate(predictor, on: task)
        #expect(result.predictions == predictions)
        #expect(abs(try #require(result.secondary["bleu"]) - 94.81208519756274) < 1e-9)
        let rouge = 100 * zip(predictions, references).map { GenerationMetrics.rougeL($0, $1) }.reduce(0, +) / 2
        #expect(abs(result.score - rouge) < 1e-9 && result.score < 100)
        // A classification task has no secondary metric.
        let em = try AnswerEvaluator(tokenizer: tokenizer).evaluate(predictor, on: TaskData(name: "c", metric: .em, train: [], test: examples))
        #expect(em.secondary.isEmpty && em.score == 0)
    }

    @Test func continualMetricsOnAHandMadeMatrix() {
        // After task 1: [80, 10, 5]; after 2: [60, 90, 20]; after 3: [50, 70, 95]; untrained b = [0, 10, 10].
        let r: [[Double]] = [[80, 10, 5], [60, 90, 20], [50, 70, 95]]
        let m = ContinualMetrics(matrix: r, baseline: [0, 10, 10])
        let acc: Double = 215.0 / 3, learning: Double = 265.0 / 3
        #expect(m.acc == acc)                 // (50 + 70 + 95) / 3
        #expect(m.learningAcc == learning)    // (80 + 90 + 95) / 3
        #expect(m.bwt == -25)                 // ((50 − 80) + (70 − 90)) / 2
        #expect(m.forgetting == 25)           // Chaudhry: ((80 − 50) + (90 − 70)) / 2
        #expect(m.fwt == 5)                   // R[j−1][j] − b_j for j = 2, 3: ((10 − 10) + (20 − 10)) / 2
        let single = ContinualMetrics(matrix: [[42]])
        #expect(single.acc == 42 && single.bwt == nil && single.forgetting == nil)
    }

    @Test func forgettingUsesTheBestEarlierScoreNotTheFirst() {
        // Task 1 peaks after task 2 (90), ends at 40: forgetting 50 (first-minus-last would give 30).
        let m = ContinualMetrics(matrix: [[70, 0, 0], [90, 80, 0], [40, 80, 60]])
        #expect(m.forgetting == 25)  // ((90 − 40) + (80 − 80)) / 2
    }
}
