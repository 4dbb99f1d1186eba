import Foundation

/// A contiguous fp32 tensor that can take part in reverse-mode differentiation.
///
/// A tensor is a shape plus a window (`offset`, `count`) on a `TensorStorage`. Reshapes are free
/// views on the same storage. Every op that produces a tensor from inputs that require gradients
/// records a backward closure on the output (see `Autograd.swift`); `backward()` on a scalar loss
/// walks those closures in reverse order and accumulates into `grad`.
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    public let storage: TensorStorage
    public let offset: Int

    /// Whether gradients flow to this tensor. A parameter that never trains (a frozen copy) sets
    /// it to false and never allocates gradient memory; inside `GradMode.freezing(_:)` the
    /// parameters it names do not require one either.
    public var requiresGrad: Bool {
        get { differentiable && !(isLeaf && GradMode.frozen?.contains(self) == true) }
        set { differentiable = newValue }
    }
    private var differentiable: Bool
    /// The accumulated gradient, same count as the tensor; nil until a backward pass reaches it.
    public internal(set) var grad: TensorStorage?

    // The autograd graph: inputs of the op that made this tensor and how to push a gradient back.
    var parents: [Tensor] = []
    var backwardFunction: ((UnsafeMutablePointer<Float>) -> Void)?
    let opName: String
    /// A tensor no op made (a parameter, an input): freezing applies to leaves only.
    private let isLeaf: Bool

    /// A new zero-filled tensor.
    public init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.shape = shape
        count = Tensor.elementCount(shape)
        storage = TensorStorage(zeros: count)
        offset = 0
        differentiable = requiresGrad
        opName = "leaf"
        isLeaf = true
    }

    /// A tensor holding a copy of `values`.
    public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) {
        precondition(values.count == Tensor.elementCount(shape),
                     "\(values.count) values do not fill shape \(shape)")
        self.init(zeros: shape, requiresGrad: requiresGrad)
        values.withUnsafeBufferPointer { data.baseAddress!.update(from: $0.baseAddress!, count: count) }
    }

    /// A tensor on existing storage, without copying (e.g. to save an optimiser's moments).
    public init(wrapping storage: TensorStorage, shape: [Int]) {
        self.shape = shape
        count = Tensor.elementCount(shape)
        precondition(count <= storage.count, "storage of \(storage.count) floats cannot hold shape \(shape)")
        self.storage = storage
        offset = 0
        differentiable = false
        opName = "leaf"
        isLeaf = true
    }

    /// An op output: storage allocated but not cleared, because the kernel writes every element.
    init(uninitialized shape: [Int], op: String) {
        self.shape = shape
        count = Tensor.elementCount(shape)
        storage = TensorStorage(uninitialized: count)
        offset = 0
        differentiable = false
        opName = op
        isLeaf = false
    }

    /// A view: same memory, another shape.
    init(viewOf base: Tensor, shape: [Int], offset: Int, op: String) {
        self.shape = shape
        count = Tensor.elementCount(shape)
        precondition(offset + count <= base.storage.count, "view out of bounds")
        storage = base.storage
        self.offset = offset
        differentiable = false
        opName = op
        isLeaf = false
    }

    static func elementCount(_ shape: [Int]) -> Int {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        return shape.reduce(1, *)
    }

    /// The elements, row-major.
    public var data: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: storage.pointer + offset, count: count)
    }

    /// A copy of the elements as an array (for tests and printing; not for hot paths).
    public var scalars: [Float] { Array(data) }

    /// The value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item() needs a one-element tensor, shape is \(shape)")
        return data[0]
    }

    /// Size of the last dimension; the "feature" width that most kernels loop over.
    public var lastDim: Int { shape.last ?? 1 }
    /// Number of rows when the tensor is seen as a matrix [count / lastDim, lastDim].
    public var rowCount: Int { lastDim == 0 ? 0 : count / lastDim }

    /// The gradient as an array, or nil if none was accumulated.
    public var gradScalars: [Float]? {
        grad.map { Array(UnsafeBufferPointer(start: $0.pointer, count: count)) }
    }

    /// Replaces the accumulated gradient (e.g. with one computed elsewhere).
    public func setGradient(_ values: [Float]) {
        precondition(values.count == count, "gradient of \(values.count) values for \(count) elements")
        let g = TensorStorage(zeros: count)
        values.withUnsafeBufferPointer { g.pointer.update(from: $0.baseAddress!, count: count) }
        grad = g
    }

    /// Drops the accumulated gradient (start of a new accumulation window).
    public func zeroGrad() { grad = nil }

    /// Overwrites the elements with `values` (in place; used when loading checkpoints).
    public func copy(from values: UnsafeBufferPointer<Float>) {
        precondition(values.count == count, "copy of \(values.count) values into \(count) elements")
        data.baseAddress!.update(from: values.baseAddress!, count: count)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.5g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}
