import Foundation
import LifelongCUDA
import Testing

/// The CUDA backend's host side without a GPU: NVRTC (CUDA 13.0, found through LIFELONG_NVRTC, which
/// `make test` points at the pip package nvidia-cuda-nvrtc) compiles every embedded kernel file to
/// sm_90 machine code, each kernel without a register spill, through the on-disk cache; a kernel
/// that does not compile shows NVRTC's log; a missing library names what was searched. Where
/// LIFELONG_NVRTC is set, failing to open it fails the tests (they are skipped only on a machine
/// with no NVRTC and no LIFELONG_NVRTC, i.e. a bare `swift test`).
@Suite struct RuntimeCompileTests {
    static let available = ProcessInfo.processInfo.environment["LIFELONG_NVRTC"] != nil || (try? NVRTC()) != nil

    @Test(.enabled(if: available, "NVRTC not found: `make test` sets LIFELONG_NVRTC (scripts/python_consumers.sh --nvrtc)"))
    func everyKernelCompilesForTheH100WithoutSpills() throws {
        let nvrtc = try NVRTC()
        #expect(nvrtc.version.major == 13 && nvrtc.version.minor == 0, "the device machine's driver is CUDA 13.0")
        var kernels = 0
        for (file, source) in KernelSources.files.sorted(by: { $0.key < $1.key }) {
            let (code, log) = try nvrtc.compile(source, file: file, headers: KernelSources.headers, architecture: "sm_90")
            // ptxas -v: "Compiling entry function 'x' for 'sm_90'" … "N bytes spill stores, M bytes spill loads".
            let entries = log.components(separatedBy: "Compiling entry function").count - 1
            let spills = log.split(separator: "\n").filter { $0.contains("spill") && !$0.contains(" 0 bytes spill stores, 0 bytes spill loads") }
            #expect(entries >= 1 && spills.isEmpty && code.starts(with: [0x7F, 0x45, 0x4C, 0x46]), "\(file): \(log)")
            kernels += entries
        }
        #expect(kernels == 16, "kernels compiled: \(kernels)")
    }

    @Test(.enabled(if: available, "NVRTC not found"))
    func compiledKernelsAreCachedPerArchitecture() throws {
        let nvrtc = try NVRTC()
        let directory = NSTemporaryDirectory() + "kernel-cache-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = KernelCache(compiler: nvrtc, architecture: "sm_90", directory: directory)
        #expect(KernelSources.files.count == 8)
        for file in KernelSources.files.keys.sorted() {
            let first = try cache.cubin(file), second = try cache.cubin(file)
            #expect(first.compiled && !second.compiled && first.code == second.code, "\(file)")
            #expect(first.code.starts(with: [0x7F, 0x45, 0x4C, 0x46]) && first.code.count > 1000, "\(file): not an ELF cubin")
        }
        let other = KernelCache(compiler: nvrtc, architecture: "sm_80", directory: directory)
        #expect(try other.cubin("adamw.cu").compiled, "another architecture is another cache entry")
    }

    @Test(.enabled(if: available, "NVRTC not found"))
    func aKernelThatDoesNotCompileShowsTheLog() throws {
        let nvrtc = try NVRTC()
        #expect {
            _ = try nvrtc.compile("extern \"C\" __global__ void k(float *x) { x[0] = undefined_name; }", file: "broken.cu",
                                  headers: [:], architecture: "sm_90")
        } throws: { error in
            guard case let .compile(file, log) = error as? CUDAError else { return false }
            return file == "broken.cu" && log.contains("undefined_name")
        }
    }

    @Test func aMissingLibraryNamesWhatWasSearched() {
        #expect {
            _ = try NVRTC(candidates: ["/nonexistent/libnvrtc.so.13", "libnvrtc-not-a-library.so"])
        } throws: { error in
            let text = "\(error)"
            return text.contains("/nonexistent/libnvrtc.so.13") && text.contains("libnvrtc-not-a-library.so") && text.contains("LIFELONG_NVRTC")
        }
    }

    static let noDriver = dlopen("libcuda.so.1", RTLD_NOW) == nil

    /// On a machine without the NVIDIA driver (CI), asking for a CUDA device fails with an error
    /// naming the driver library and every place searched — not a crash and not a silent CPU run.
    @Test(.enabled(if: noDriver, "this machine has an NVIDIA driver"))
    func withoutTheDriverACUDADeviceIsAClearError() {
        #expect {
            _ = try CUDADriver()
        } throws: { error in
            guard case let .libraryMissing(library, searched) = error as? CUDAError else { return false }
            return library.contains("libcuda.so.1") && searched.count == CUDADriver.candidates.count
        }
    }
}
