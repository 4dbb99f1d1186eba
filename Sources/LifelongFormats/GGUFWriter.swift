import Foundation
import LifelongEngine

/// Writes a GGUF v3 file (the layout `GGUFFile` reads): header, metadata, tensor infos, then each
/// tensor's data aligned to 32 bytes.
///
/// Metadata values carry their GGUF type explicitly: llama.cpp checks a key's type (a context
/// length must be a u32, a token type list an i32 array), so a value is written as what the
/// consumer expects, not as whatever type holds it.
public struct GGUFWriter {
    public enum Value {
        case uint32(UInt32), int32(Int32), float32(Float), bool(Bool), string(String)
        case strings([String]), int32s([Int32])
    }

    /// How a tensor's values are stored. `q8_0` (blocks of 32 values: an fp16 scale and 32 signed
    /// bytes) needs rows whose length is a multiple of 32; other rows fall back to `f16`.
    public enum Storage: String, CaseIterable, Sendable {
        case f32, f16, q8_0
        var type: GGMLType { switch self { case .f32: .f32; case .f16: .f16; case .q8_0: .q8_0 } }
    }

    private var metadata: [(key: String, value: Value)] = []
    private var tensors: [(name: String, shape: [Int], storage: Storage, values: [Float])] = []
    public static let alignment = 32

    public init() {}

    public mutating func set(_ key: String, _ value: Value) {
        precondition(!metadata.contains { $0.key == key }, "GGUF key \(key) set twice")
        metadata.append((key, value))
    }

    /// Adds a tensor of `shape` (PyTorch order: [rows, columns]) stored as `storage`; a
    /// 1-dimensional tensor (a norm, a bias) is always fp32, as llama.cpp keeps them.
    public mutating func add(_ name: String, shape: [Int], values: [Float], storage: Storage) {
        precondition(shape.reduce(1, *) == values.count, "GGUF tensor \(name): \(values.count) values for shape \(shape)")
        var chosen = shape.count == 1 ? .f32 : storage
        if chosen == .q8_0 && shape.last! % 32 != 0 { chosen = .f16 }
        tensors.append((name, shape, chosen, values))
    }

    /// The bytes of the file.
    public func data() -> Data {
        var out = Data()
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func put(_ s: String) { put(UInt64(s.utf8.count)); out.append(contentsOf: Array(s.utf8)) }
        put(UInt32(0x4655_4747)); put(UInt32(3)); put(UInt64(tensors.count)); put(UInt64(metadata.count))
        for (key, value) in metadata {
            put(key)
            switch value {
            case let .uint32(v): put(UInt32(4)); put(v)
            case let .int32(v): put(UInt32(5)); put(v)
            case let .float32(v): put(UInt32(6)); put(v.bitPattern)
            case let .bool(v): put(UInt32(7)); put(UInt8(v ? 1 : 0))
            case let .string(v): put(UInt32(8)); put(v)
            case let .strings(v): put(UInt32(9)); put(UInt32(8)); put(UInt64(v.count)); v.forEach { put($0) }
            case let .int32s(v): put(UInt32(9)); put(UInt32(5)); put(UInt64(v.count)); v.forEach { put($0) }
            }
        }
        let encoded = tensors.map { Self.encode($0.values, as: $0.storage) }
        var offset = 0
        for (tensor, bytes) in zip(tensors, encoded) {
            put(tensor.name); put(UInt32(tensor.shape.count))
            for d in tensor.shape.reversed() { put(UInt64(d)) }  // GGUF lists the fastest-varying dimension first
            put(tensor.storage.type.rawValue); put(UInt64(offset))
            offset += Self.padded(bytes.count)
        }
        for bytes in encoded {
            out.append(Data(count: Self.padded(out.count) - out.count))
            out.append(contentsOf: bytes)
        }
        return out
    }

    public func write(to path: String) throws { try writeAtomically(data(), to: path) }

    private static func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    static func encode(_ values: [Float], as storage: Storage) -> [UInt8] {
        var bytes: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        switch storage {
        case .f32:
            bytes.reserveCapacity(4 * values.count)
            values.forEach { put($0.bitPattern) }
        case .f16:
            bytes.reserveCapacity(2 * values.count)
            values.forEach { put(halfFromFloat($0)) }
        case .q8_0:
            bytes.reserveCapacity(values.count / 32 * 34)
            for start in stride(from: 0, to: values.count, by: 32) {
                let block = values[start..<(start + 32)]
                // As ggml's reference quantiser: d = max|x| / 127 stored in fp16, q = round(x / d) away from zero.
                let d = block.map(abs).max()! / 127, inverse: Float = d == 0 ? 0 : 1 / d
                put(halfFromFloat(d))
                for x in block { bytes.append(UInt8(bitPattern: Int8((x * inverse).rounded()))) }
            }
        }
        return bytes
    }
}

/// Single → IEEE half precision, rounding to nearest even (as numpy, torch and ggml do).
public func halfFromFloat(_ x: Float) -> UInt16 {
    Float16(x).bitPattern
}
