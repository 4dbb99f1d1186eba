import Foundation
import LifelongFormats
import Testing

/// Every JSON file the project reads is RFC 8259 JSON; what Foundation would let through (a
/// trailing comma, a duplicate key) is refused naming the file, the line and the column.
@Suite struct StrictJSONTests {
    @Test(arguments: [
        (#"{"a": 1,}"#, "line 1, column 9", "trailing comma before '}'"),
        ("[1, 2,]", "line 1, column 7", "trailing comma before ']'"),
        ("{\"a\": 1,\n \"a\": 2}", "line 2, column 2", #"the key "a" appears twice"#),
        (#"{"a": 1 /* c */}"#, "line 1, column 9", "',' or '}' expected"),
        ("// c\n{}", "line 1, column 1", "comments are not JSON"),
        (#"{"a": NaN}"#, "line 1, column 7", "NaN and Infinity"),
        (#"{"a": -Infinity}"#, "line 1, column 7", "NaN and Infinity"),
        (#"{"a": 012}"#, "line 1, column 7", "leading zero"),
        (#"{"a": 'x'}"#, "line 1, column 7", "unexpected character"),
        ("{\"a\": \"tab\there\"}", "line 1, column 11", "control character"),
        (#"{"a": "\x"}"#, "line 1, column 8", "not a JSON escape"),
        (#"{"a": 1} {"b": 2}"#, "line 1, column 10", "after the JSON value"),
        ("", "line 1, column 1", "a value is missing"),
        (#"{"a": tru}"#, "line 1, column 7", "unexpected word"),
        (#"{"a": 1.}"#, "line 1, column 9", "digit must follow the decimal point"),
    ])
    func notQuiteJSONIsRefusedWithItsPlace(text: String, place: String, reason: String) {
        #expect { try StrictJSON.validate(Data(text.utf8), file: "f.json") } throws: { error in
            let message = "\(error)"
            return message.hasPrefix("f.json: \(place): not valid JSON (RFC 8259)") && message.contains(reason)
        }
    }

    @Test func validJSONPasses() throws {
        let texts = [#"{"a": [1, -2.5e-3, 0, 1E+2], "b": {"c": null, "d": true, "e": false}, "\u00e9\n": "x\"\\\/\b\f\r\t\u20ac"}"#,
                     " [ ] ", "{}", "\"just a string\"", "-0", #"{"a": "é 😀"}"#, #"{"\u0061": 1, "b": 2}"#]
        for text in texts { try StrictJSON.validate(Data(text.utf8), file: "f.json") }
        #expect { try StrictJSON.validate(Data(#"{"a": 1, "\u0061": 2}"#.utf8), file: "f.json") } throws: {
            "\($0)".contains(#"the key "a" appears twice"#)
        }
    }

    @Test func aJSONLinesLineIsNamedByItsNumber() {
        #expect { try StrictJSON.object(Data(#"{"a": [1,]}"#.utf8), file: "train.jsonl", firstLine: 7) } throws: {
            "\($0)".hasPrefix("train.jsonl: line 7, column 10")
        }
    }

    @Test func deepNestingIsRefusedBeforeTheStackRunsOut() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect { try StrictJSON.validate(Data(deep.utf8), file: "f.json") } throws: { "\($0)".contains("nested deeper than 256") }
    }
}

/// Only regular files are read: a named pipe in the place of a file would block for ever.
@Suite struct UserFileTests {
    @Test func aNamedPipeOrAFolderIsRefusedWithoutBlocking() throws {
        let folder = NSTemporaryDirectory() + "user-file-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pipe = folder + "/pipe"
        #expect(mkfifo(pipe, 0o600) == 0)
        #expect { try UserFile.data(pipe) } throws: { "\($0)".contains("pipe: not a regular file (a named pipe)") }
        #expect { try MappedFile(path: pipe) } throws: { "\($0)".contains("a named pipe") }
        #expect { try UserFile.text(folder) } throws: { "\($0)".contains("not a regular file (a directory)") }
        let link = folder + "/link"
        try "text".write(toFile: folder + "/file", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: folder + "/file")
        #expect(try UserFile.text(link) == "text", "a link to a regular file is followed")
        #expect { try UserFile.data(folder + "/missing") } throws: { "\($0)".contains("no such file") }
    }
}
