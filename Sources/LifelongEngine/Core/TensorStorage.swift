/// A block of fp32 memory owned by one or more tensors (a tensor and its views share it).
///
/// Memory is 64-byte aligned so that SIMD loads and BLAS never straddle a cache line at the start.
public final class TensorStorage {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// Allocates `count` floats, set to zero.
    public init(zeros count: Int) {
        precondition(count >= 0, "negative storage size")
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        self.count = count
    }

    /// Allocates `count` floats without clearing them: for outputs a kernel overwrites entirely.
    public init(uninitialized count: Int) {
        precondition(count >= 0, "negative storage size")
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }
}
