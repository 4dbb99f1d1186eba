import Foundation
import LifelongEngine
import LifelongFormats
import Testing

@Suite struct GGUFTests {
    let gguf = Fixture.path("types.gguf")

    @Test func everyTypeDequantisesLikeTheReference() throws {
        let file = try GGUFFile(path: gguf)
        let expected = try SafetensorsFile(path: Fixture.path("types.expected.safetensors"))
        #expect(file.version == 3)
        for name in ["f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q4_k", "q6_k"] {
            let tensor = try file.tensor(name)
            #expect(tensor.shape == [2, 256], "\(name)")
            let reference = try expected.tensor(name).scalars
            let worst = zip(tensor.scalars, reference).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-6 * max(1, reference.map(abs).max()!), "\(name): max difference \(worst)")
        }
    }

    @Test func metadataOfEveryValueType() throws {
        let m = try GGUFFile(path: gguf).metadata
        #expect(m["test.u8"] == .unsigned(200) && m["test.i8"] == .signed(-100))
        #expect(m["test.u16"] == .unsigned(60000) && m["test.i16"] == .signed(-30000))
        #expect(m["test.u32"] == .unsigned(4_000_000_000) && m["test.i32"] == .signed(-2_000_000_000))
        #expect(m["test.u64"] == .unsigned(1 << 40) && m["test.i64"] == .signed(-(1 << 40)))
        #expect(m["test.f32"] == .float(0.25) && m["test.f64"] == .float(-1.5))
        #expect(m["test.bool"] == .bool(true) && m["test.string"] == .string("héllo ✓"))
        #expect(m["test.array"] == .array([.string("a"), .string("bc"), .string("")]))
        #expect(m["general.architecture"]?.string == "llama")
    }

    func write(_ bytes: [UInt8], _ name: String) -> String {
        let path = NSTemporaryDirectory() + "gguf-\(getpid())-\(name).gguf"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// Every truncation of a real file that cuts into its header or data is an error, never a crash.
    @Test func everyTruncationIsAnError() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: gguf)))
        let end = try GGUFFile(path: gguf).dataEnd
        #expect(end <= bytes.count && end > bytes.count - 32)  // only alignment padding follows the data
        let path = NSTemporaryDirectory() + "gguf-truncated-\(getpid()).gguf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        for length in stride(from: 0, to: end, by: 7) + [end - 1] {
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes[0..<length]))
            #expect(throws: FormatError.self, "truncated to \(length) bytes") { try GGUFFile(path: path) }
        }
    }

    @Test func hostileHeadersAreRejectedWithoutHugeAllocations() {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        let magic: [UInt8] = Array("GGUF".utf8)
        func expect(_ bytes: [UInt8], _ text: String, _ name: String) {
            let path = write(bytes, name)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect { try GGUFFile(path: path) } throws: { "\($0)".contains(text) }
        }
        expect(Array("GGML".utf8) + le(UInt32(3)) + le(UInt64(0)) + le(UInt64(0)), "bad magic", "magic")
        expect(magic + le(UInt32(1)) + le(UInt64(0)) + le(UInt64(0)), "version 1", "version")
        expect(magic + le(UInt32(3)) + le(UInt64(1) << 60) + le(UInt64(0)), "tensor count", "tensors")
        // One metadata entry: a string array claiming 2^50 elements.
        let key = le(UInt64(1)) + Array("k".utf8)
        expect(magic + le(UInt32(3)) + le(UInt64(0)) + le(UInt64(1)) + key + le(UInt32(9)) + le(UInt32(8)) + le(UInt64(1) << 50),
               "array length", "array")
        // A tensor with an unknown type, and one whose data lies past the end.
        let tensorName = le(UInt64(1)) + Array("t".utf8)
        let header = magic + le(UInt32(3)) + le(UInt64(1)) + le(UInt64(0)) + tensorName + le(UInt32(1)) + le(UInt64(32))
        expect(header + le(UInt32(99)) + le(UInt64(0)) + [UInt8](repeating: 0, count: 200), "ggml type 99", "type")
        expect(header + le(UInt32(0)) + le(UInt64(0)) + [UInt8](repeating: 0, count: 20), "runs past the end", "offset")
        let oddRow = magic + le(UInt32(3)) + le(UInt64(1)) + le(UInt64(0)) + tensorName + le(UInt32(2)) + le(UInt64(30)) + le(UInt64(1))
        expect(oddRow + le(UInt32(8)) + le(UInt64(0)) + [UInt8](repeating: 0, count: 100), "not a multiple of the Q8_0 block size", "block")
        // A norm weight (one dimension) in a block type: whole blocks, but no rows to keep them in.
        let vector = magic + le(UInt32(3)) + le(UInt64(1)) + le(UInt64(0)) + tensorName + le(UInt32(1)) + le(UInt64(64))
        expect(vector + le(UInt32(8)) + le(UInt64(0)) + [UInt8](repeating: 0, count: 100), "tensor 't': a 1-dimensional tensor stored as Q8_0", "vector")
    }
}

/// Quantised weights kept as blocks: expanded values and products against gguf-py's dequantisation.
@Suite(.serialized) struct QuantizedMatrixTests {
    @Test(arguments: [false, true])
    func blocksExpandAndMultiplyLikeTheDequantisedReference(vectorKernels: Bool) throws {
        let file = try GGUFFile(path: Fixture.path("types.gguf"))
        let expected = try SafetensorsFile(path: Fixture.path("types.expected.safetensors"))
        let saved = QuantizedMatrix.usesVectorKernels
        QuantizedMatrix.usesVectorKernels = vectorKernels
        defer { QuantizedMatrix.usesVectorKernels = saved }
        var rng = SeededGenerator(seed: 3)
        // The fixture's 512 values as 2 rows of 8 blocks and as 16 rows of one block (an odd count,
        // which the kernels finish outside their two-blocks-at-a-time loop).
        for (name, format) in [("q4_0", QuantizedMatrix.Format.q4_0), ("q4_1", .q4_1), ("q8_0", .q8_0)] {
            let info = try #require(file.info(name))
            let reference = try expected.tensor(name).scalars
            for (rows, columns) in [(2, 256), (16, 32)] {
                // Rows reversed, to cover the row order the rotary un-permutation uses.
                let order = Array((0..<rows).reversed())
                let matrix = QuantizedMatrix(format: format, rows: rows, columns: columns, source: file.rawBytes(info), rowOrder: order)
                let reordered = order.flatMap { reference[($0 * columns)..<($0 * columns + columns)] }
                #expect(matrix.dequantized().scalars == reordered, "\(name) \(rows)×\(columns): expanded blocks differ from the reference")
                for xRows in [1, 3, 5] {  // 1 and 3 take the in-register path, 5 the tiled one
                    let x = Tensor(randomNormal: [xRows, columns], std: 1, rng: &rng)
                    let y = noGrad { linear(x, matrix) }.scalars
                    var worst: Double = 0
                    for i in 0..<xRows {
                        for r in 0..<rows {
                            var exact: Double = 0
                            for k in 0..<columns { exact += Double(x.scalars[i * columns + k]) * Double(reordered[r * columns + k]) }
                            worst = max(worst, abs(Double(y[i * rows + r]) - exact) / max(1, abs(exact)))
                        }
                    }
                    #expect(worst < 1e-5, "\(name) \(rows)×\(columns), \(xRows) x rows: relative error \(worst)")
                }
            }
        }
    }
}
