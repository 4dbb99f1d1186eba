import Foundation

/// NVRTC, CUDA's run-time compiler, opened with `dlopen`: CUDA C in, machine code (a cubin) for one
/// GPU architecture out. It needs no GPU, so CI compiles every kernel with it.
public final class NVRTC: @unchecked Sendable {
    private typealias Program = OpaquePointer?
    private let library: DynamicLibrary
    private typealias Create = @convention(c) (UnsafeMutablePointer<Program>, UnsafePointer<CChar>, UnsafePointer<CChar>, Int32,
                                               UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    private typealias Compile = @convention(c) (Program, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    private typealias Size = @convention(c) (Program, UnsafeMutablePointer<Int>) -> Int32
    private typealias Bytes = @convention(c) (Program, UnsafeMutablePointer<CChar>) -> Int32
    private typealias Destroy = @convention(c) (UnsafeMutablePointer<Program>) -> Int32
    private typealias ErrorString = @convention(c) (Int32) -> UnsafePointer<CChar>?
    private typealias Version = @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Int32
    private let create: Create, compileProgram: Compile, logSize: Size, log: Bytes, cubinSize: Size, cubin: Bytes
    private let destroy: Destroy, errorString: ErrorString
    /// (major, minor): part of a compiled kernel's cache key.
    public let version: (major: Int, minor: Int)

    /// The libraries to try: `LIFELONG_NVRTC` (a path to libnvrtc.so.13, e.g. the pip package
    /// nvidia-cuda-nvrtc's), then the loader's search, then the usual CUDA install.
    public static var candidates: [String] {
        (ProcessInfo.processInfo.environment["LIFELONG_NVRTC"].map { [$0] } ?? [])
            + ["libnvrtc.so.13", "/usr/local/cuda/lib64/libnvrtc.so.13"]
    }

    public init(candidates: [String] = NVRTC.candidates) throws {
        // libnvrtc opens its builtins library by soname; opening it first, globally, from the same
        // folder makes a library outside the loader's path work (otherwise every compile fails, error 7).
        for candidate in candidates where candidate.contains("/") {
            let folder = (candidate as NSString).deletingLastPathComponent
            let builtins = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
                .filter { $0.hasPrefix("libnvrtc-builtins.so") && !$0.contains(".alt.") }
            for name in builtins { _ = try? DynamicLibrary.open(name, candidates: [folder + "/" + name], global: true) }
        }
        library = try DynamicLibrary.open("NVRTC (libnvrtc.so.13)", candidates: candidates)
        create = try library.function("nvrtcCreateProgram", as: Create.self)
        compileProgram = try library.function("nvrtcCompileProgram", as: Compile.self)
        logSize = try library.function("nvrtcGetProgramLogSize", as: Size.self)
        log = try library.function("nvrtcGetProgramLog", as: Bytes.self)
        cubinSize = try library.function("nvrtcGetCUBINSize", as: Size.self)
        cubin = try library.function("nvrtcGetCUBIN", as: Bytes.self)
        destroy = try library.function("nvrtcDestroyProgram", as: Destroy.self)
        errorString = try library.function("nvrtcGetErrorString", as: ErrorString.self)
        let getVersion = try library.function("nvrtcVersion", as: Version.self)
        var major: Int32 = 0, minor: Int32 = 0
        _ = getVersion(&major, &minor)
        version = (Int(major), Int(minor))
    }

    /// Compiles `source` (named `file` in messages) with `headers` (name → text) available to its
    /// `#include`s, to machine code for `architecture` (`sm_90`): the cubin and the compiler's log
    /// (registers and spills per kernel, from ptxas).
    public func compile(_ source: String, file: String, headers: [String: String], architecture: String) throws -> (cubin: [UInt8], log: String) {
        var program: Program = nil
        let names = headers.keys.sorted(), texts = names.map { headers[$0]! }
        let status = withCStrings(texts) { textPointers in
            withCStrings(names) { namePointers in
                create(&program, source, file, Int32(names.count), textPointers, namePointers)
            }
        }
        try check(status, "nvrtcCreateProgram")
        defer { _ = destroy(&program) }
        let options = ["--gpu-architecture=\(architecture)", "--ptxas-options=-v", "--std=c++17"]
        let compiled = withCStrings(options) { compileProgram(program, Int32(options.count), $0) }
        var size = 0
        _ = logSize(program, &size)
        var logText = [CChar](repeating: 0, count: max(size, 1))
        _ = log(program, &logText)
        let message = String(decoding: logText.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard compiled == 0 else { throw CUDAError.compile(file: file, log: message) }
        try check(cubinSize(program, &size), "nvrtcGetCUBINSize")
        var code = [CChar](repeating: 0, count: size)
        try check(cubin(program, &code), "nvrtcGetCUBIN")
        return (code.map { UInt8(bitPattern: $0) }, message)
    }

    private func check(_ status: Int32, _ function: String) throws {
        guard status != 0 else { return }
        throw CUDAError.call(function, code: status, message: errorString(status).map { String(cString: $0) } ?? "unknown")
    }
}

/// Calls `body` with the strings as an array of C string pointers (valid during the call).
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer<CChar>($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
