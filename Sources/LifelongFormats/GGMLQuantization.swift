/// The ggml tensor types this project reads, with their block layouts, and dequantisation.
///
/// Quantised types store blocks of `blockSize` values in `blockBytes` bytes: a scale (and for
/// the "_1" and K types a minimum) in fp16, then packed small integers. Value = scale · q (+ min).
public enum GGMLType: UInt32, Sendable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q4_K = 12, q6_K = 14, bf16 = 30

    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: return 32
        case .q4_K, .q6_K: return 256
        }
    }

    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18   // d, 16 bytes of nibbles
        case .q4_1: return 20   // d, m, 16 bytes of nibbles
        case .q5_0: return 22   // d, 4 bytes of fifth bits, 16 bytes of nibbles
        case .q5_1: return 24   // d, m, fifth bits, nibbles
        case .q8_0: return 34   // d, 32 signed bytes
        case .q4_K: return 144  // d, dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles
        case .q6_K: return 210  // 128 bytes low nibbles, 64 bytes high 2-bits, 16 scales, d
        }
    }

    public var description: String {
        switch self {
        case .f32: "F32"; case .f16: "F16"; case .bf16: "BF16"; case .q4_0: "Q4_0"; case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"; case .q5_1: "Q5_1"; case .q8_0: "Q8_0"; case .q4_K: "Q4_K"; case .q6_K: "Q6_K"
        }
    }
}

@inline(__always) private func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    floatFromHalf(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}

/// Dequantises one block of `type` at `block` into `blockSize` floats at `out`.
@inline(__always)
func dequantizeBlock(_ type: GGMLType, _ block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
    let bytes = block.assumingMemoryBound(to: UInt8.self)
    switch type {
    case .f32:
        y[0] = Float(bitPattern: UInt32(littleEndian: block.loadUnaligned(as: UInt32.self)))
    case .f16:
        y[0] = half(block, 0)
    case .bf16:
        y[0] = Float(bitPattern: UInt32(UInt16(littleEndian: block.loadUnaligned(as: UInt16.self))) << 16)
    case .q4_0:  // low nibbles are values 0–15, high nibbles 16–31, offset by −8
        let d = half(block, 0), qs = bytes + 2
        for j in 0..<16 {
            y[j] = Float(Int(qs[j] & 0xF) - 8) * d
            y[j + 16] = Float(Int(qs[j] >> 4) - 8) * d
        }
    case .q4_1:
        let d = half(block, 0), m = half(block, 2), qs = bytes + 4
        for j in 0..<16 {
            y[j] = Float(qs[j] & 0xF) * d + m
            y[j + 16] = Float(qs[j] >> 4) * d + m
        }
    case .q5_0, .q5_1:  // as Q4, with a fifth bit per value from a 32-bit mask
        let hasMin = type == .q5_1
        let d = half(block, 0), m: Float = hasMin ? half(block, 2) : 0
        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: hasMin ? 4 : 2, as: UInt32.self))
        let qs = bytes + (hasMin ? 8 : 6), offset = hasMin ? 0 : 16
        for j in 0..<16 {
            let high0 = Int((qh >> UInt32(j)) << 4 & 0x10), high1 = Int((qh >> UInt32(j + 12)) & 0x10)
            y[j] = Float((Int(qs[j] & 0xF) | high0) - offset) * d + m
            y[j + 16] = Float((Int(qs[j] >> 4) | high1) - offset) * d + m
        }
    case .q8_0:
        let d = half(block, 0)
        for j in 0..<32 { y[j] = Float(Int8(bitPattern: bytes[2 + j])) * d }
    case .q4_K:
        // 8 sub-blocks of 32 values, each with a 6-bit scale and a 6-bit minimum packed in 12 bytes.
        let d = half(block, 0), dmin = half(block, 2), scales = bytes + 4
        var q = bytes + 16, out = y
        for pair in 0..<4 {
            let (s1, m1) = scaleAndMinK4(2 * pair, scales), (s2, m2) = scaleAndMinK4(2 * pair + 1, scales)
            let d1 = d * Float(s1), min1 = dmin * Float(m1), d2 = d * Float(s2), min2 = dmin * Float(m2)
            for l in 0..<32 { out[l] = d1 * Float(q[l] & 0xF) - min1 }
            for l in 0..<32 { out[l + 32] = d2 * Float(q[l] >> 4) - min2 }
            q += 32; out += 64
        }
    case .q6_K:
        // 6-bit values: low 4 bits in ql, high 2 bits in qh, offset by −32; 16 signed 8-bit scales.
        var ql = bytes, qh = bytes + 128, sc = UnsafeRawPointer(bytes + 192).assumingMemoryBound(to: Int8.self)
        let d = half(block, 208)
        var out = y
        for _ in 0..<2 {
            for l in 0..<32 {
                let s = l / 16
                let q1 = Int((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32
                let q2 = Int((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32
                let q3 = Int((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32
                let q4 = Int((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32
                out[l] = d * Float(sc[s]) * Float(q1)
                out[l + 32] = d * Float(sc[s + 2]) * Float(q2)
                out[l + 64] = d * Float(sc[s + 4]) * Float(q3)
                out[l + 96] = d * Float(sc[s + 6]) * Float(q4)
            }
            out += 128; ql += 64; qh += 32; sc += 8
        }
    }
}

/// Scale and minimum j (0–7) of a Q4_K block: 6 bits each, the high 2 bits of j ≥ 4 stored in
/// the top bits of the first 8 bytes.
@inline(__always)
private func scaleAndMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (UInt8, UInt8) {
    if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
    return ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
}
