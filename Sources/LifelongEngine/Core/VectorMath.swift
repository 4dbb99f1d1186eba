import Foundation

/// Short-vector kernels on raw pointers, written with SIMD types so that they vectorise: the
/// compiler keeps floating-point order and never turns a plain reduction loop into SIMD code.
/// Attention calls them for every (query, key) pair of every head, where vectors are one head
/// wide (32–128 values) and a BLAS call per pair would cost more than the arithmetic.
public enum VectorMath {
    /// Σ a[i]·b[i] for i < count.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= count {
            acc0 += ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            acc1 += ra.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
            i += 16
        }
        if i + 8 <= count {
            acc0 += ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        var sum = (acc0 + acc1).sum()
        while i < count { sum += a[i] * b[i]; i += 1 }
        return sum
    }

    /// y[i] += alpha·x[i] for i < count.
    @inline(__always)
    public static func addScaled(_ x: UnsafePointer<Float>, scale alpha: Float, into y: UnsafeMutablePointer<Float>, count: Int) {
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        var i = 0
        while i + 8 <= count {
            let sum = ry.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                + alpha * rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            ry.storeBytes(of: sum, toByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { y[i] += alpha * x[i]; i += 1 }
    }
}

extension VectorMath {
    /// e^x for 8 values at once, within 2 ulp of the correctly rounded result (Cephes' expf
    /// polynomial): x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^x = 2ⁿ · p(r). Inputs below −87.34
    /// (where e^x leaves the normal floats) give 0, so e^−∞ = 0; inputs above 88 give e^88, so
    /// callers subtract a maximum first, as every softmax here does.
    @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let low: Float = -87.336_54, high: Float = 88
        var clamped = x
        clamped.replace(with: low, where: x .< low)
        clamped.replace(with: high, where: x .> high)
        let magic = SIMD8<Float>(repeating: 12_582_912)  // 1.5·2²³: adding it rounds to an integer
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        let r = (clamped - n * 0.693_359_375) - n * -2.121_944_4e-4  // ln 2 in two parts
        var p = SIMD8<Float>(repeating: 1.987_569_1e-4)
        p = p * r + 1.398_199_9e-3
        p = p * r + 8.333_452e-3
        p = p * r + 4.166_579_6e-2
        p = p * r + 1.666_666_5e-1
        p = p * r + 5e-1
        p = p * r * r + r + 1
        // 2ⁿ built from its bits: n sits in the low mantissa bits of `shifted`.
        let exponent = (unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- unsafeBitCast(magic, to: SIMD8<UInt32>.self) &+ 127) &<< 23
        var result = p * unsafeBitCast(exponent, to: SIMD8<Float>.self)
        result.replace(with: 0, where: x .< low)
        return result
    }

    /// The largest of `count` values (−∞ for none).
    @inline(__always)
    public static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        let raw = UnsafeRawPointer(x)
        var best = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            best.replace(with: v, where: v .> best)
            i += 8
        }
        var result = best.max()
        while i < count { result = Swift.max(result, x[i]); i += 1 }
        return result
    }

    /// Writes y[i] = e^(x[i] − shift) (when `y` is given) and returns their sum.
    @inline(__always) @discardableResult
    public static func exponentials(_ x: UnsafePointer<Float>, minus shift: Float, into y: UnsafeMutablePointer<Float>?,
                                    count: Int) -> Float {
        let raw = UnsafeRawPointer(x)
        var sum = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            let e = exp(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) - shift)
            if let y { UnsafeMutableRawPointer(y).storeBytes(of: e, toByteOffset: 4 * i, as: SIMD8<Float>.self) }
            sum += e
            i += 8
        }
        var total = sum.sum()
        while i < count {
            let e = Foundation.exp(x[i] - shift)
            y?[i] = e
            total += e
            i += 1
        }
        return total
    }

    /// σ(x) = 1 / (1 + e^−x) for 8 values.
    @inline(__always)
    public static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> { 1 / (1 + exp(-x)) }
}

extension SIMD8 where Scalar == Float {
    /// The 8 floats at `pointer` (no alignment needed).
    @inline(__always)
    init(load pointer: UnsafePointer<Float>) {
        self = UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Writes the 8 floats at `pointer` (no alignment needed).
    @inline(__always)
    func store(to pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: self, as: SIMD8<Float>.self)
    }
}
