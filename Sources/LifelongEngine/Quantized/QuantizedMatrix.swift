import CKernels

/// A weight matrix [rows, columns] kept in one of ggml's block-quantised formats, for inference.
///
/// A quantised model read as fp32 streams 4–6× more bytes per decoded token than it needs to;
/// `linear(x, quantized)` instead expands each block in registers right where it is multiplied.
/// Every weight is expanded to exactly the fp32 value `dequantized()` holds, so results match the
/// fp32 model up to summation order. There is no backward: train on the fp32 weights.
public final class QuantizedMatrix: @unchecked Sendable {  // immutable after init
    public enum Format: Sendable, CaseIterable {
        case q4_0, q4_1, q8_0

        /// Bytes of one block of 32 values.
        public var blockBytes: Int { lf_quant_block_bytes(kernelFormat) }

        var kernelFormat: LFQuantFormat {
            switch self {
            case .q4_0: LFQuantQ4_0
            case .q4_1: LFQuantQ4_1
            case .q8_0: LFQuantQ8_0
            }
        }
    }

    public static let blockSize = 32
    public let format: Format
    public let rows: Int
    public let columns: Int
    private let blocks: UnsafeMutableRawBufferPointer

    /// Bytes per row: columns / 32 blocks.
    public var rowBytes: Int { columns / Self.blockSize * format.blockBytes }

    /// Copies the blocks of the rows `rowOrder` (row i of the matrix is row rowOrder[i] of
    /// `source`; nil keeps the order) out of `source`, which holds `rows` rows back to back.
    public init(format: Format, rows: Int, columns: Int, source: UnsafeRawBufferPointer, rowOrder: [Int]? = nil) {
        precondition(rows > 0 && columns > 0 && columns % Self.blockSize == 0,
                     "QuantizedMatrix: \(rows)×\(columns) is not rows of whole 32-value blocks")
        self.format = format; self.rows = rows; self.columns = columns
        let rowBytes = columns / Self.blockSize * format.blockBytes
        precondition(source.count == rows * rowBytes, "QuantizedMatrix: \(source.count) bytes for \(rows) rows of \(rowBytes)")
        precondition(rowOrder == nil || rowOrder!.count == rows, "QuantizedMatrix: row order needs \(rows) entries")
        blocks = .allocate(byteCount: rows * rowBytes, alignment: 64)
        for row in 0..<rows {
            let from = rowOrder?[row] ?? row
            precondition(from >= 0 && from < rows, "QuantizedMatrix: row order entry \(from) outside 0..<\(rows)")
            (blocks.baseAddress! + row * rowBytes).copyMemory(from: source.baseAddress! + from * rowBytes, byteCount: rowBytes)
        }
    }

    deinit { blocks.deallocate() }

    /// Bytes held: the memory the quantised weights cost.
    public var byteCount: Int { blocks.count }

    /// True when the AVX2/FMA kernels run (x86-64 CPUs since 2013); otherwise portable C loops.
    /// Setting it to false forces the portable kernels (tests compare the two).
    public static var usesVectorKernels: Bool {
        get { lf_quant_uses_avx2() != 0 }
        set { lf_quant_allow_avx2(newValue ? 1 : 0) }
    }

    /// The fp32 matrix [rows, columns].
    public func dequantized() -> Tensor {
        let out = Tensor(uninitialized: [rows, columns], op: "dequantize")
        Parallel.forRanges(rows, costPerItem: columns) { range in
            lf_quant_dequantize(format.kernelFormat, pointer, columns, range.lowerBound, range.upperBound,
                                out.data.baseAddress! + range.lowerBound * columns)
        }
        return out
    }

    var pointer: UnsafePointer<UInt8> { UnsafePointer(blocks.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
}

/// y = x · Wᵀ over the last dimension of `x` ([..., columns] → [..., rows]) with a quantised W,
/// as `linear(x, W, layout: .outIn)` with the dequantised W. Inference only: records no gradient.
public func linear(_ x: Tensor, _ weight: QuantizedMatrix) -> Tensor {
    precondition(x.lastDim == weight.columns, "linear: input width \(x.lastDim) ≠ weight in-features \(weight.columns)")
    precondition(!GradMode.isEnabled || !x.requiresGrad,
                 "linear: a quantised weight has no backward; use the fp32 weights for training")
    let xRows = x.rowCount, rows = weight.rows, columns = weight.columns
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [rows], op: "linear(quantized)")
    let xp = x.data.baseAddress!, yp = out.data.baseAddress!
    // Split the weight's rows over the threads: each reads its own part of W once.
    Parallel.forRanges(rows, costPerItem: columns * xRows) { range in
        lf_quant_matmul(weight.format.kernelFormat, weight.pointer, columns, range.lowerBound, range.upperBound,
                        xp, xRows, columns, yp, rows)
    }
    return out
}
