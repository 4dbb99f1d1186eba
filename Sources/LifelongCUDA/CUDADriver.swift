import Foundation

/// The NVIDIA driver (libcuda.so.1) opened at run time: one device, its primary context, one
/// stream, stream-ordered allocations from the device's pool (kept cached: freed blocks are reused,
/// not returned to the driver), modules loaded from the kernel cache's cubins, kernel launches and
/// copies. Every call's result is checked and turned into a `CUDAError` naming the function.
///
/// NOT YET RUN ON A GPU: written against CUDA 13's driver API and compiled here, but no session has
/// had a GPU to execute it on (the README's GPU section says what has been verified).
public final class CUDADriver: @unchecked Sendable {
    public typealias DevicePointer = UInt64
    private typealias Handle = OpaquePointer?

    private let library: DynamicLibrary
    private typealias ErrorString = @convention(c) (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Int32
    private typealias ModuleLoadData = @convention(c) (UnsafeMutablePointer<Handle>, UnsafeRawPointer) -> Int32
    private typealias ModuleGetFunction = @convention(c) (UnsafeMutablePointer<Handle>, Handle, UnsafePointer<CChar>) -> Int32
    private typealias LaunchKernel = @convention(c) (Handle, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, Handle,
                                                    UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32
    private typealias AllocAsync = @convention(c) (UnsafeMutablePointer<DevicePointer>, Int, Handle) -> Int32
    private typealias FreeAsync = @convention(c) (DevicePointer, Handle) -> Int32
    private typealias CopyToDevice = @convention(c) (DevicePointer, UnsafeRawPointer, Int, Handle) -> Int32
    private typealias CopyToHost = @convention(c) (UnsafeMutableRawPointer, DevicePointer, Int, Handle) -> Int32
    private typealias SynchronizeStream = @convention(c) (Handle) -> Int32
    private let errorName: ErrorString
    private let moduleLoadData: ModuleLoadData
    private let moduleGetFunction: ModuleGetFunction
    private let launchKernel: LaunchKernel
    private let allocAsync: AllocAsync
    private let freeAsync: FreeAsync
    private let copyToDevice: CopyToDevice
    private let copyToHost: CopyToHost
    private let synchronizeStream: SynchronizeStream
    private var stream: Handle = nil

    /// The device's name, its compute capability as NVRTC names it (`sm_90`), and its memory.
    public private(set) var deviceName = "", architecture = "", memoryBytes = 0

    /// The driver libraries to try: the loader's search, then where distributions put it.
    public static let candidates = ["libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1",
                                    "/usr/local/cuda/lib64/stubs/libcuda.so"]

    /// Opens the driver, initialises it and takes device `ordinal`'s primary context and a stream.
    public init(device ordinal: Int = 0, candidates: [String] = CUDADriver.candidates) throws {
        library = try DynamicLibrary.open("the NVIDIA driver (libcuda.so.1)", candidates: candidates)
        errorName = try library.function("cuGetErrorString", as: ErrorString.self)
        moduleLoadData = try library.function("cuModuleLoadData", as: ModuleLoadData.self)
        moduleGetFunction = try library.function("cuModuleGetFunction", as: ModuleGetFunction.self)
        launchKernel = try library.function("cuLaunchKernel", as: LaunchKernel.self)
        allocAsync = try library.function("cuMemAllocAsync", as: AllocAsync.self)
        freeAsync = try library.function("cuMemFreeAsync", as: FreeAsync.self)
        copyToDevice = try library.function("cuMemcpyHtoDAsync_v2", as: CopyToDevice.self)
        copyToHost = try library.function("cuMemcpyDtoHAsync_v2", as: CopyToHost.self)
        synchronizeStream = try library.function("cuStreamSynchronize", as: SynchronizeStream.self)
        try openDevice(ordinal)
    }

    private func openDevice(_ ordinal: Int) throws {
        typealias IntOut = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
        let initialize = try library.function("cuInit", as: (@convention(c) (UInt32) -> Int32).self)
        try check(initialize(0), "cuInit")
        var count: Int32 = 0
        try check(try library.function("cuDeviceGetCount", as: IntOut.self)(&count), "cuDeviceGetCount")
        guard ordinal < count else { throw CUDAError.call("cuDeviceGet", code: 101, message: "device \(ordinal) asked for; \(count) CUDA device(s) present") }
        var device: Int32 = 0
        try check(try library.function("cuDeviceGet", as: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32).self)(&device, Int32(ordinal)), "cuDeviceGet")
        var name = [CChar](repeating: 0, count: 256)
        try check(try library.function("cuDeviceGetName", as: (@convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Int32).self)(&name, 256, device), "cuDeviceGetName")
        deviceName = String(cString: name)
        let attribute = try library.function("cuDeviceGetAttribute", as: (@convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Int32).self)
        var major: Int32 = 0, minor: Int32 = 0
        try check(attribute(&major, 75, device), "cuDeviceGetAttribute(compute capability major)")
        try check(attribute(&minor, 76, device), "cuDeviceGetAttribute(compute capability minor)")
        architecture = "sm_\(major)\(minor)"
        var bytes = 0
        try check(try library.function("cuDeviceTotalMem_v2", as: (@convention(c) (UnsafeMutablePointer<Int>, Int32) -> Int32).self)(&bytes, device), "cuDeviceTotalMem")
        memoryBytes = bytes
        var context: Handle = nil
        try check(try library.function("cuDevicePrimaryCtxRetain", as: (@convention(c) (UnsafeMutablePointer<Handle>, Int32) -> Int32).self)(&context, device), "cuDevicePrimaryCtxRetain")
        try check(try library.function("cuCtxSetCurrent", as: (@convention(c) (Handle) -> Int32).self)(context), "cuCtxSetCurrent")
        try check(try library.function("cuStreamCreate", as: (@convention(c) (UnsafeMutablePointer<Handle>, UInt32) -> Int32).self)(&stream, 1), "cuStreamCreate")
        // Keep freed memory in the device's pool (release threshold: never), so that the allocations of
        // one training step are served from the last step's without going back to the driver.
        var pool: Handle = nil
        try check(try library.function("cuDeviceGetDefaultMemPool", as: (@convention(c) (UnsafeMutablePointer<Handle>, Int32) -> Int32).self)(&pool, device), "cuDeviceGetDefaultMemPool")
        var threshold = UInt64.max
        try check(try library.function("cuMemPoolSetAttribute", as: (@convention(c) (Handle, Int32, UnsafeMutableRawPointer) -> Int32).self)(pool, 4, &threshold), "cuMemPoolSetAttribute(release threshold)")
    }

    /// A kernel of a cubin (from `KernelCache`), ready to launch.
    public func function(_ name: String, in cubin: [UInt8]) throws -> OpaquePointer {
        var module: Handle = nil, function: Handle = nil
        try cubin.withUnsafeBytes { try check(moduleLoadData(&module, $0.baseAddress!), "cuModuleLoadData") }
        try check(moduleGetFunction(&function, module, name), "cuModuleGetFunction(\(name))")
        return function!
    }

    /// Launches `function` on the stream; `arguments` point at each kernel parameter's value.
    public func launch(_ function: OpaquePointer, blocks: Int, threads: Int, arguments: [UnsafeMutableRawPointer?]) throws {
        var parameters = arguments
        try check(parameters.withUnsafeMutableBufferPointer {
            launchKernel(function, UInt32(blocks), 1, 1, UInt32(threads), 1, 1, 0, stream, $0.baseAddress, nil)
        }, "cuLaunchKernel")
    }

    /// `bytes` of device memory, stream-ordered from the device's pool.
    public func allocate(_ bytes: Int) throws -> DevicePointer {
        var pointer: DevicePointer = 0
        try check(allocAsync(&pointer, max(bytes, 1), stream), "cuMemAllocAsync(\(bytes) bytes)")
        return pointer
    }

    public func free(_ pointer: DevicePointer) throws { try check(freeAsync(pointer, stream), "cuMemFreeAsync") }

    public func upload(_ values: [Float], to pointer: DevicePointer) throws {
        try values.withUnsafeBytes { try check(copyToDevice(pointer, $0.baseAddress!, $0.count, stream), "cuMemcpyHtoDAsync") }
    }

    /// Reads `count` floats back (waits for the stream: the values are on the host when it returns).
    public func download(_ pointer: DevicePointer, count: Int) throws -> [Float] {
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBytes { try check(copyToHost($0.baseAddress!, pointer, $0.count, stream), "cuMemcpyDtoHAsync") }
        try synchronize()
        return values
    }

    public func synchronize() throws { try check(synchronizeStream(stream), "cuStreamSynchronize") }

    private func check(_ status: Int32, _ function: String) throws {
        guard status != 0 else { return }
        var text: UnsafePointer<CChar>? = nil
        _ = errorName(status, &text)
        throw CUDAError.call(function, code: status, message: text.map { String(cString: $0) } ?? "unknown error")
    }
}
