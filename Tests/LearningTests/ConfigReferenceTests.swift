import Foundation
import LifelongLearning
import Testing

/// docs/config.md holds the key reference generated from the config's key tables, so the
/// documented keys, types, ranges and defaults are the ones the code reads. After changing a
/// table, `LIFELONG_WRITE_DOCS=1 swift test --filter ConfigReferenceTests` rewrites the file.
@Suite struct ConfigReferenceTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/config.md").path
    static let begin = "<!-- key reference: generated from RunConfig's key tables -->\n"
    static let end = "<!-- end of the key reference -->"

    @Test func theDocumentedKeysAreTheTables() throws {
        let text = try String(contentsOfFile: Self.file, encoding: .utf8)
        let generated = Self.begin + RunConfig.keyReference + Self.end
        if ProcessInfo.processInfo.environment["LIFELONG_WRITE_DOCS"] == "1",
           let start = text.range(of: Self.begin), let stop = text.range(of: Self.end) {
            try (text.replacingCharacters(in: start.lowerBound..<stop.upperBound, with: generated))
                .write(toFile: Self.file, atomically: true, encoding: .utf8)
            return
        }
        #expect(text.contains(generated), "docs/config.md is not the key tables' reference; regenerate it:\n\(generated)")
    }
}
