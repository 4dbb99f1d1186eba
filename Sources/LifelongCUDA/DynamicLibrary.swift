import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A shared library opened at run time with `dlopen`, so that nothing of CUDA is needed to build or
/// link LifelongLM: a machine without it only fails when a CUDA device is asked for, with the list
/// of what was searched.
final class DynamicLibrary: @unchecked Sendable {
    let path: String
    private let handle: UnsafeMutableRawPointer

    private init(path: String, handle: UnsafeMutableRawPointer) {
        self.path = path; self.handle = handle
    }

    /// The first of `candidates` that opens: a bare name goes through the loader's search
    /// (LD_LIBRARY_PATH, ldconfig), a path is opened as it is. `global` makes its symbols visible to
    /// libraries opened later (NVRTC's builtins).
    static func open(_ library: String, candidates: [String], global: Bool = false) throws -> DynamicLibrary {
        var tried: [String] = []
        for candidate in candidates {
            if let handle = dlopen(candidate, RTLD_NOW | (global ? RTLD_GLOBAL : RTLD_LOCAL)) {
                return DynamicLibrary(path: candidate, handle: handle)
            }
            tried.append("\(candidate) (\(dlerror().map { String(cString: $0) } ?? "not found"))")
        }
        throw CUDAError.libraryMissing(library, searched: tried)
    }

    /// The function `name`, typed as the C function pointer type `T`.
    func function<T>(_ name: String, as type: T.Type) throws -> T {
        guard let symbol = dlsym(handle, name) else { throw CUDAError.symbolMissing(name, library: path) }
        return unsafeBitCast(symbol, to: type)
    }
}
