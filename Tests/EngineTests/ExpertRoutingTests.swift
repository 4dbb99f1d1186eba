import Foundation
import LifelongEngine
import TestSupport
import Testing

/// The routing ops of a mixture of experts: top-k gates, gathering an expert's tokens, adding
/// the experts' outputs back.
@Suite struct ExpertRoutingTests {
    @Test func topTwoGatesRenormaliseOverTheChosenLogits() {
        let logits = Tensor([1, 3, 2, 0, /**/ 0.5, 0.5, -1, 0.5], shape: [2, 4])
        let (gates, experts) = topKGates(logits, k: 2)
        #expect(experts == [1, 2, 0, 1], "best first; the lower index on ties")
        let e = Float(M_E)
        #expect(abs(gates.data[0] - e / (e + 1)) < 1e-6 && abs(gates.data[1] - 1 / (e + 1)) < 1e-6)
        #expect(gates.data[2] == 0.5 && gates.data[3] == 0.5)
    }

    @Test func gradientsOfTheGates() {
        let logits = random([5, 6], seed: 1, std: 2)
        checkGradients([logits], epsilon: 1e-3) { topKGates(logits, k: 2).gates }
    }

    @Test func gradientsOfGatherAndCombine() {
        let x = random([6, 4], seed: 2)
        let gates = random([6, 2], seed: 3)
        let rows = [[0, 2, 5], [1, 2, 3, 4]], gateIndices = [[0, 4, 10], [2, 5, 6, 8]]
        let outputs = [random([3, 4], seed: 4), random([4, 4], seed: 5)]
        checkGradients(outputs + [gates]) { combineExperts(outputs, rows: rows, gates: gates, gateIndices: gateIndices, count: 6) }
        checkGradients([x]) { gatherRows(x, rows: [4, 0, 4, 2]) }
    }

    @Test func combineIsTheGateWeightedSum() {
        let outputs = [Tensor([1, 2], shape: [1, 2]), Tensor([10, 20], shape: [1, 2])]
        let gates = Tensor([0.25, 0.75], shape: [1, 2])
        let y = combineExperts(outputs, rows: [[0], [0]], gates: gates, gateIndices: [[0], [1]], count: 2)
        #expect(y.scalars == [0.25 + 7.5, 0.5 + 15, 0, 0], "row 1 was taken by no expert")
    }
}
