import Foundation
import LifelongEngine

/// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}`, then the raw
/// tensor bytes, offsets relative to the end of the header.
///
/// Reading checks everything a hostile file could get wrong — header length, JSON shape, dtype,
/// that element count × element size equals the byte span, offsets inside the data and not
/// overlapping — and throws a `FormatError` naming the file and the tensor. Tensors are converted
/// to fp32 (F32, F16, BF16) or to integers (I64, I32) only when asked for.
public final class SafetensorsFile {
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32"
        var size: Int { switch self { case .f32, .i32: 4; case .f16, .bf16: 2; case .i64: 8 } }
    }

    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range inside the data section.
        public let begin: Int, end: Int
    }

    public let path: String
    public let metadata: [String: String]
    /// Tensor entries in file order (by offset).
    public let entries: [Entry]
    private let index: [String: Int]
    private let file: MappedFile
    private let dataStart: Int

    /// Headers larger than this are refused: real ones are kilobytes to a few megabytes.
    static let maxHeaderBytes = 100 << 20

    public init(path: String) throws {
        file = try MappedFile(path: path)
        self.path = path
        let bytes = file.bytes
        func fail(_ message: String) -> FormatError { FormatError(file: path, message) }

        guard bytes.count >= 8 else { throw fail("file is \(bytes.count) bytes, shorter than the 8-byte header length") }
        let headerLength = bytes.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else { throw fail("header length \(headerLength) is implausibly large") }
        dataStart = 8 + Int(headerLength)
        let dataSize = bytes.count - dataStart

        let headerData = Data(bytes[8..<dataStart])
        let json: Any
        do { json = try StrictJSON.object(headerData, file: "header") } catch let error as FormatError {
            throw fail("header: \(error.message)")
        }
        guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let dict = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in dict {
                    guard let s = v as? String else { throw fail("__metadata__.\(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw fail("tensor '\(name)': entry is not an object") }
            guard let dtypeName = info["dtype"] as? String else { throw fail("tensor '\(name)': missing dtype") }
            guard let dtype = DType(rawValue: dtypeName) else { throw fail("tensor '\(name)': unsupported dtype \(dtypeName)") }
            guard let shapeValues = info["shape"] as? [Any] else { throw fail("tensor '\(name)': missing shape") }
            var shape: [Int] = []
            var elements = 1
            for dim in shapeValues {
                guard let n = JSONFields.integer(dim), n >= 0 else { throw fail("tensor '\(name)': shape \(shapeValues) has a bad dimension") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: n)
                guard !overflow else { throw fail("tensor '\(name)': shape \(shapeValues) overflows") }
                shape.append(n); elements = product
            }
            guard let offsets = info["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = JSONFields.integer(offsets[0]), let end = JSONFields.integer(offsets[1]) else {
                throw fail("tensor '\(name)': data_offsets must be two integers")
            }
            guard begin >= 0, begin <= end else { throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] are reversed or negative") }
            guard end <= dataSize else {
                throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] run past the \(dataSize)-byte data section")
            }
            let (bytesNeeded, overflow) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, bytesNeeded == end - begin else {
                throw fail("tensor '\(name)': shape \(shape) of \(dtype.rawValue) needs \(bytesNeeded) bytes but data_offsets span \(end - begin)")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        // As the reference implementation: the tensors tile the data section exactly, from 0 to its
        // end. A header length a few bytes off shifts every tensor and is caught here.
        var covered = 0
        for entry in entries {
            guard entry.begin == covered else {
                throw fail(entry.begin < covered ? "tensor '\(entry.name)' overlaps the one before it in the data section"
                           : "tensor '\(entry.name)' starts at \(entry.begin), leaving a gap after byte \(covered) of the data section")
            }
            covered = entry.end
        }
        guard covered == dataSize else {
            throw fail("the tensors end at byte \(covered) of the data section, which has \(dataSize) bytes (header length or file size wrong)")
        }
        self.metadata = metadata
        self.entries = entries
        index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    public var names: [String] { entries.map(\.name) }

    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    private func require(_ name: String) throws -> Entry {
        guard let e = entry(name) else { throw FormatError(file: path, "no tensor named '\(name)'") }
        return e
    }

    /// The tensor converted to fp32 (F32, F16 and BF16 only).
    public func tensor(_ name: String) throws -> Tensor {
        let e = try require(name)
        let out = Tensor(zeros: e.shape)
        try readFloats(e, into: out.data)
        return out
    }

    /// Converts entry `e` into `destination`, whose size must match.
    public func readFloats(_ e: Entry, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let count = e.shape.reduce(1, *)
        guard destination.count == count else {
            throw FormatError(file: path, "tensor '\(e.name)' has \(count) elements, expected \(destination.count)")
        }
        let src = UnsafeRawBufferPointer(rebasing: file.bytes[(dataStart + e.begin)..<(dataStart + e.end)])
        let out = destination.baseAddress!
        switch e.dtype {
        case .f32:
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<count { out[i] = floatFromHalf(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bf16:
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
        case .i64, .i32:
            throw FormatError(file: path, "tensor '\(e.name)' holds integers (\(e.dtype.rawValue)), not floats")
        }
    }

    /// An integer tensor (I64 or I32), e.g. token ids in a fixture.
    public func integers(_ name: String) throws -> [Int] {
        let e = try require(name)
        let count = e.shape.reduce(1, *)
        let src = UnsafeRawBufferPointer(rebasing: file.bytes[(dataStart + e.begin)..<(dataStart + e.end)])
        switch e.dtype {
        case .i64: return (0..<count).map { Int(Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
        case .i32: return (0..<count).map { Int(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        default: throw FormatError(file: path, "tensor '\(name)' holds floats (\(e.dtype.rawValue)), not integers")
        }
    }

    /// Writes fp32 tensors as a safetensors file, atomically (see `writeAtomically`).
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to path: String) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, t) in tensors {
            guard header[name] == nil else { throw FormatError(file: path, "tensor name '\(name)' given twice") }
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]] as [String: Any]
            offset += 4 * t.count
        }
        var headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so that the data section starts 8-byte aligned, as the reference writer does.
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }
        var file = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(headerBytes)
        for (_, t) in tensors {
            #if _endian(little)
            file.append(UnsafeBufferPointer(t.data))  // fp32 in memory is already the file's little-endian layout
            #else
            for value in t.data { withUnsafeBytes(of: value.bitPattern.littleEndian) { file.append(contentsOf: $0) } }
            #endif
        }
        try writeAtomically(file, to: path)
    }
}

/// IEEE half → single precision, including subnormals, infinities and NaN.
@inline(__always)
public func floatFromHalf(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
        // Zero or subnormal: mantissa · 2^-24.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
}
