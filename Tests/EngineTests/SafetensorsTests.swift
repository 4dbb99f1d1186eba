import Foundation
import LifelongEngine
import TestSupport
import LifelongFormats
import Testing

/// A class so that each test's scratch directory is removed when the test ends (deinit).
@Suite final class SafetensorsTests {
    let directory: String = {
        let path = NSTemporaryDirectory() + "safetensors-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// A file made of an 8-byte header length, the header text and `data`.
    func file(header: String, data: [UInt8], headerLength: UInt64? = nil, name: String = #function) -> String {
        var bytes = Data()
        let json = Data(header.utf8)
        withUnsafeBytes(of: (headerLength ?? UInt64(json.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(json)
        bytes.append(contentsOf: data)
        let path = "\(directory)/\(name.filter(\.isLetter)).safetensors"
        _ = FileManager.default.createFile(atPath: path, contents: bytes)
        return path
    }

    func expectError(_ path: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try SafetensorsFile(path: path)
            Issue.record("expected an error containing '\(text)'", sourceLocation: sourceLocation)
        } catch let error as FormatError {
            #expect(error.description.contains(text), "\(error)", sourceLocation: sourceLocation)
            #expect(error.file == path, sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func roundTripIsExactAndAtomic() throws {
        let a = Tensor([1, -2.5, 3e-8, .greatestFiniteMagnitude], shape: [2, 2]), b = Tensor([7], shape: [])
        let path = "\(directory)/round.safetensors"
        try SafetensorsFile.write([("a", a), ("b.c", b)], metadata: ["format": "pt"], to: path)
        let read = try SafetensorsFile(path: path)
        #expect(read.names.sorted() == ["a", "b.c"])
        #expect(read.metadata["format"] == "pt")
        #expect(try read.tensor("a").scalars == a.scalars)
        #expect(try read.tensor("a").shape == [2, 2])
        #expect(try read.tensor("b.c").scalars == [7])
        // Nothing but the file itself is left in the directory (the temporary file was renamed).
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test func halfAndBFloat16AreConverted() throws {
        // 1.0, -2.0, 65504 (max half), 2^-24 (smallest subnormal) in F16; 1.0 and -3.0 in BF16.
        let half: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001]
        let bf16: [UInt16] = [0x3F80, 0xC040]
        let data = (half + bf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let path = file(header: #"{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}}"#, data: data)
        let read = try SafetensorsFile(path: path)
        #expect(try read.tensor("h").scalars == [1, -2, 65504, 0x1p-24])
        #expect(try read.tensor("b").scalars == [1, -3])
    }

    @Test func truncatedFile() {
        expectError(file(header: "", data: [], headerLength: 0), containing: "not valid JSON")
        let path = "\(directory)/short.safetensors"
        _ = FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3]))
        expectError(path, containing: "shorter than the 8-byte header length")
    }

    /// A header length a few bytes short shifts every tensor by those bytes: the tensors then no
    /// longer end where the data section ends. Trailing bytes and gaps are refused the same way.
    @Test func theTensorsMustTileTheDataSectionExactly() {
        let header = #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}  "#  // two pad spaces, as writers pad
        expectError(file(header: header, data: [0, 0, 128, 63], headerLength: UInt64(header.utf8.count - 1)),
                    containing: "the tensors end at byte 4 of the data section, which has 5 bytes")
        expectError(file(header: header, data: [0, 0, 128, 63, 0], name: "trailing"), containing: "which has 5 bytes")
        expectError(file(header: #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8), name: "gap"),
                    containing: "leaving a gap after byte 0")
    }

    @Test func headerLengthPastTheEnd() {
        expectError(file(header: "{}", data: [], headerLength: 1 << 40), containing: "runs past the end")
    }

    @Test func offsetsOutsideTheData() {
        expectError(file(header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]),
                    containing: "run past the 4-byte data section")
    }

    @Test func dtypeAndShapeMismatch() {
        expectError(file(header: #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)),
                    containing: "needs 12 bytes but data_offsets span 8")
        expectError(file(header: #"{"x":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)),
                    containing: "unsupported dtype Q9")
    }

    @Test func overlappingTensors() {
        expectError(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                         data: Array(repeating: 0, count: 8)), containing: "overlap")
    }

    @Test func malformedHeaders() {
        expectError(file(header: "[1,2]", data: []), containing: "not a JSON object")
        expectError(file(header: #"{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#, data: []), containing: "bad dimension")
        expectError(file(header: #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: Array(repeating: 0, count: 4)),
                    containing: "reversed")
        expectError(file(header: #"{"x":{"dtype":"F32","shape":[1]}}"#, data: []), containing: "data_offsets must be two integers")
        expectError(file(header: #"{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                    containing: "overflows")
    }

    @Test func missingFileAndWrongKind() throws {
        do { _ = try SafetensorsFile(path: "\(directory)/absent.safetensors"); Issue.record("no error") } catch let e as FormatError {
            #expect(e.description.contains("cannot open"))
        }
        let path = file(header: #"{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#, data: [5, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255])
        let read = try SafetensorsFile(path: path)
        #expect(try read.integers("ids") == [5, -1])
        #expect(throws: FormatError.self) { try read.tensor("ids") }
        #expect(throws: FormatError.self) { try read.tensor("nothing") }
    }
}
