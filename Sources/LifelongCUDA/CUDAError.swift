/// What can go wrong between LifelongLM and CUDA, each case naming what to fix.
public enum CUDAError: Error, CustomStringConvertible, Equatable {
    /// A library (the driver's libcuda.so.1, NVRTC, cuBLAS) that none of the candidates provided.
    case libraryMissing(String, searched: [String])
    /// A library without a function this code calls (an older CUDA than the one it was written for).
    case symbolMissing(String, library: String)
    /// A CUDA call that returned an error: the function, its code and CUDA's own words.
    case call(String, code: Int32, message: String)
    /// NVRTC refused a kernel file: its log.
    case compile(file: String, log: String)

    public var description: String {
        switch self {
        case let .libraryMissing(library, searched):
            return "\(library) could not be opened; searched: \(searched.joined(separator: "; ")). "
                + "A CUDA device needs the NVIDIA driver (libcuda.so.1) and CUDA 13's NVRTC and cuBLAS on the library path "
                + "(LIFELONG_NVRTC may name libnvrtc.so.13 itself)"
        case let .symbolMissing(name, library): return "\(library) has no function \(name): a CUDA 13 library is needed"
        case let .call(function, code, message): return "\(function) failed with CUDA error \(code): \(message)"
        case let .compile(file, log): return "NVRTC could not compile \(file):\n\(log)"
        }
    }
}
