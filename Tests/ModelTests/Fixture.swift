import Foundation
import LifelongEngine
import LifelongFormats
import Testing

/// The committed reference outputs of `scripts/make_fixtures.py`.
enum Fixture {
    static var directory: String {
        Bundle.module.resourcePath! + "/Fixtures"
    }

    static func path(_ name: String) -> String { directory + "/" + name }
}

/// max |actual − expected| / max |expected|: the error relative to the tensor's scale, so that
/// elements near zero do not blow it up.
func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
    precondition(actual.count == expected.count, "sizes differ: \(actual.count) vs \(expected.count)")
    var maxDiff: Float = 0, maxRef: Float = 0
    for (a, e) in zip(actual, expected) {
        maxDiff = max(maxDiff, abs(a - e))
        maxRef = max(maxRef, abs(e))
    }
    return maxRef == 0 ? maxDiff : maxDiff / maxRef
}
