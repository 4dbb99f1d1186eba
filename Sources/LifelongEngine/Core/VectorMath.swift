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
