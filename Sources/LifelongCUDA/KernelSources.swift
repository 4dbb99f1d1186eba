/// The CUDA C of the kernels (Kernels/*.cu, and the header they share), embedded in the binary at
/// build time, so that a statically linked `lifelong` carries them to a GPU machine. The same files
/// are what CI compiles with NVRTC and runs under the CPU emulation.
public enum KernelSources {
    /// Kernel files by name.
    public static let files: [String: String] = [
        "adamw.cu": text(PackageResources.adamw_cu),
        "elementwise.cu": text(PackageResources.elementwise_cu),
        "embedding.cu": text(PackageResources.embedding_cu),
        "masked_softmax.cu": text(PackageResources.masked_softmax_cu),
        "rmsnorm.cu": text(PackageResources.rmsnorm_cu),
        "rope.cu": text(PackageResources.rope_cu),
        "softmax_cross_entropy.cu": text(PackageResources.softmax_cross_entropy_cu),
        "swiglu.cu": text(PackageResources.swiglu_cu),
    ]

    /// The headers the kernel files include, by the name they include them by.
    public static let headers: [String: String] = ["common.cuh": text(PackageResources.common_cuh)]

    private static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}
