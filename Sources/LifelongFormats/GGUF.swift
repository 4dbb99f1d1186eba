import Foundation
import LifelongEngine

/// A GGUF file (llama.cpp's model format, versions 2 and 3), memory-mapped.
///
/// Layout: magic "GGUF", version, tensor count, metadata count; the metadata key/value pairs; the
/// tensor infos (name, dimensions, type, offset); padding to `general.alignment` (default 32);
/// the tensor data. Every count, length and offset is checked against the file size before it is
/// used, so a truncated or hostile file raises a `FormatError` instead of crashing or allocating
/// without bound.
public final class GGUFFile {
    public indirect enum Value: Equatable, Sendable {
        case unsigned(UInt64), signed(Int64), float(Double), bool(Bool), string(String), array([Value])

        public var int: Int? {
            switch self {
            case let .unsigned(v): return v <= UInt64(Int.max) ? Int(v) : nil
            case let .signed(v): return Int(v)
            default: return nil
            }
        }
        public var double: Double? {
            switch self {
            case let .float(v): return v
            case let .unsigned(v): return Double(v)
            case let .signed(v): return Double(v)
            default: return nil
            }
        }
        public var string: String? { if case let .string(s) = self { return s } else { return nil } }
        public var bool: Bool? { if case let .bool(b) = self { return b } else { return nil } }
        public var array: [Value]? { if case let .array(a) = self { return a } else { return nil } }
    }

    public struct TensorInfo: Sendable {
        public let name: String
        /// Dimensions in GGUF order: the first is the fastest-varying (a row's length).
        public let dimensions: [Int]
        public let type: GGMLType
        /// Byte offset from the start of the data section, and byte length.
        public let offset: Int, byteCount: Int
        /// The shape in PyTorch order (dimensions reversed): [rows, columns] for a matrix.
        public var shape: [Int] { dimensions.reversed() }
        public var elementCount: Int { dimensions.reduce(1, *) }
    }

    public let path: String
    public let version: Int
    public let metadata: [String: Value]
    public let tensors: [TensorInfo]
    public let alignment: Int
    /// Where the data section starts in the file; `dataEnd` is where the last tensor's bytes end.
    public let dataStart: Int
    public var dataEnd: Int { dataStart + (tensors.map { $0.offset + $0.byteCount }.max() ?? 0) }
    private let index: [String: Int]
    private let file: MappedFile

    public init(path: String) throws {
        file = try MappedFile(path: path)
        self.path = path
        var reader = ByteReader(bytes: file.bytes, path: path)

        guard try reader.read(UInt32.self) == 0x4655_4747 else { throw FormatError(file: path, "not a GGUF file (bad magic)") }
        let version = Int(try reader.read(UInt32.self))
        guard version == 2 || version == 3 else { throw FormatError(file: path, "GGUF version \(version) is not supported (2 or 3)") }
        self.version = version
        let tensorCount = try reader.readCount(minimumBytesEach: 24, what: "tensor count")
        let metadataCount = try reader.readCount(minimumBytesEach: 12, what: "metadata count")

        var metadata: [String: Value] = [:]
        for _ in 0..<metadataCount {
            let key = try reader.string()
            let type = try reader.read(UInt32.self)
            guard metadata[key] == nil else { throw FormatError(file: path, "metadata key '\(key)' appears twice") }
            metadata[key] = try reader.value(ofType: type, key: key, depth: 0)
        }
        self.metadata = metadata
        var alignment = 32
        if let value = metadata["general.alignment"] {
            guard let a = value.int else { throw FormatError(file: path, "metadata 'general.alignment' must be an integer") }
            alignment = a
        }
        guard alignment > 0, alignment % 8 == 0, alignment <= 1 << 20 else {
            throw FormatError(file: path, "general.alignment \(alignment) must be a positive multiple of 8")
        }
        self.alignment = alignment

        var infos: [TensorInfo] = []
        for _ in 0..<tensorCount {
            let name = try reader.string()
            let rank = Int(try reader.read(UInt32.self))
            guard (1...4).contains(rank) else { throw FormatError(file: path, "tensor '\(name)': \(rank) dimensions (1 to 4 allowed)") }
            var dimensions: [Int] = [], elements = 1
            for _ in 0..<rank {
                let d = try reader.read(UInt64.self)
                guard d > 0, d < 1 << 40 else { throw FormatError(file: path, "tensor '\(name)': dimension \(d) is out of range") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(d))
                guard !overflow, product < 1 << 40 else { throw FormatError(file: path, "tensor '\(name)': too many elements") }
                dimensions.append(Int(d)); elements = product
            }
            let rawType = try reader.read(UInt32.self)
            guard let type = GGMLType(rawValue: rawType) else {
                throw FormatError(file: path, "tensor '\(name)': ggml type \(rawType) is not supported")
            }
            guard rank > 1 || type.blockSize == 1 else {  // llama.cpp keeps norms and biases in F32; our loader needs rows
                throw FormatError(file: path, "tensor '\(name)': a 1-dimensional tensor stored as \(type) (block-quantised types are for matrices)")
            }
            guard dimensions[0] % type.blockSize == 0 else {
                throw FormatError(file: path, "tensor '\(name)': row length \(dimensions[0]) is not a multiple of the \(type) block size \(type.blockSize)")
            }
            let offset = try reader.read(UInt64.self)
            guard offset % UInt64(alignment) == 0, offset < 1 << 50 else {
                throw FormatError(file: path, "tensor '\(name)': offset \(offset) is not aligned to \(alignment)")
            }
            infos.append(TensorInfo(name: name, dimensions: dimensions, type: type, offset: Int(offset),
                                    byteCount: elements / type.blockSize * type.blockBytes))
        }

        dataStart = (reader.position + alignment - 1) / alignment * alignment
        let dataSize = file.bytes.count - dataStart
        for info in infos where info.offset + info.byteCount > dataSize {
            throw FormatError(file: path, "tensor '\(info.name)': data [\(info.offset), \(info.offset + info.byteCount)) runs past the end of the file (data section is \(max(dataSize, 0)) bytes)")
        }
        let byOffset = infos.sorted { $0.offset < $1.offset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where b.offset < a.offset + a.byteCount {
            throw FormatError(file: path, "tensors '\(a.name)' and '\(b.name)' overlap")
        }
        var index: [String: Int] = [:]
        for (i, info) in infos.enumerated() {
            guard index.updateValue(i, forKey: info.name) == nil else { throw FormatError(file: path, "tensor '\(info.name)' appears twice") }
        }
        tensors = infos
        self.index = index
    }

    public func info(_ name: String) -> TensorInfo? { index[name].map { tensors[$0] } }

    /// The raw bytes of a tensor (quantised blocks as stored).
    public func rawBytes(_ info: TensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[(dataStart + info.offset)..<(dataStart + info.offset + info.byteCount)])
    }

    /// The tensor dequantised to fp32, in PyTorch shape order.
    public func tensor(_ name: String) throws -> Tensor {
        guard let info = info(name) else { throw FormatError(file: path, "no tensor named '\(name)'") }
        let out = Tensor(zeros: info.shape)
        dequantize(info, into: out.data)
        return out
    }

    /// Dequantises `info` into `destination` (which must hold `info.elementCount` floats),
    /// block rows spread over the threads.
    public func dequantize(_ info: TensorInfo, into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count == info.elementCount, "dequantize: destination size mismatch")
        let blocks = info.elementCount / info.type.blockSize
        let source = rawBytes(info).baseAddress!, out = destination.baseAddress!, type = info.type
        Parallel.forRanges(blocks, costPerItem: type.blockSize * 4) { range in
            for block in range {
                dequantizeBlock(type, source + block * type.blockBytes, into: out + block * type.blockSize)
            }
        }
    }

    /// A required metadata value, or an error naming the key.
    public func require(_ key: String) throws -> Value {
        guard let value = metadata[key] else { throw FormatError(file: path, "missing metadata '\(key)'") }
        return value
    }

    /// An optional integer key: nil when absent, an error naming the key when it holds another type.
    public func optionalInt(_ key: String) throws -> Int? {
        guard let value = metadata[key] else { return nil }
        guard let v = value.int else { throw FormatError(file: path, "metadata '\(key)' must be an integer") }
        return v
    }

    /// An optional string key: nil when absent, an error naming the key when it holds another type.
    public func optionalString(_ key: String) throws -> String? {
        guard let value = metadata[key] else { return nil }
        guard let v = value.string else { throw FormatError(file: path, "metadata '\(key)' must be a string") }
        return v
    }

    /// An optional array key: nil when absent, an error naming the key when it holds another type.
    public func optionalArray(_ key: String) throws -> [Value]? {
        guard let value = metadata[key] else { return nil }
        guard let v = value.array else { throw FormatError(file: path, "metadata '\(key)' must be an array") }
        return v
    }
}

/// Reads little-endian values from a byte buffer, checking every read against its end.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var position = 0

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let size = MemoryLayout<T>.size
        guard position + size <= bytes.count else {
            throw FormatError(file: path, "truncated: needed \(size) bytes at offset \(position), file is \(bytes.count) bytes")
        }
        defer { position += size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// Reads a u64 count that must fit in what remains of the file if each item takes at least
    /// `minimumBytesEach` bytes. (Reading first matters: the remaining size is measured after it.)
    mutating func readCount(minimumBytesEach: Int, what: String) throws -> Int {
        let n = try read(UInt64.self)
        let remaining = UInt64(bytes.count - position)
        guard n <= remaining / UInt64(max(minimumBytesEach, 1)) else {
            throw FormatError(file: path, "\(what) \(n) at offset \(position) cannot fit in the remaining \(remaining) bytes")
        }
        return Int(n)
    }

    mutating func string() throws -> String {
        let length = try readCount(minimumBytesEach: 1, what: "string length")
        defer { position += length }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + length)]), as: UTF8.self)
    }

    mutating func value(ofType type: UInt32, key: String, depth: Int) throws -> GGUFFile.Value {
        switch type {
        case 0: return .unsigned(UInt64(try read(UInt8.self)))
        case 1: return .signed(Int64(try read(Int8.self)))
        case 2: return .unsigned(UInt64(try read(UInt16.self)))
        case 3: return .signed(Int64(try read(Int16.self)))
        case 4: return .unsigned(UInt64(try read(UInt32.self)))
        case 5: return .signed(Int64(try read(Int32.self)))
        case 6: return .float(Double(Float(bitPattern: try read(UInt32.self))))
        case 7:
            let b = try read(UInt8.self)
            guard b <= 1 else { throw FormatError(file: path, "metadata '\(key)': bool byte \(b) is not 0 or 1") }
            return .bool(b == 1)
        case 8: return .string(try string())
        case 9:
            guard depth < 4 else { throw FormatError(file: path, "metadata '\(key)': arrays nested too deeply") }
            let elementType = try read(UInt32.self)
            let elementSize: Int = [0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 8, 9: 12, 10: 8, 11: 8, 12: 8][elementType] ?? 1
            let n = try readCount(minimumBytesEach: elementSize, what: "metadata '\(key)' array length")
            var items: [GGUFFile.Value] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(ofType: elementType, key: key, depth: depth + 1)) }
            return .array(items)
        case 10: return .unsigned(try read(UInt64.self))
        case 11: return .signed(try read(Int64.self))
        case 12: return .float(Double(bitPattern: try read(UInt64.self)))
        default: throw FormatError(file: path, "metadata '\(key)': unknown value type \(type) at offset \(position - 4)")
        }
    }
}
