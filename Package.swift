// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Quail",
    products: [
        .executable(name: "quail", targets: ["quail"]),
        .library(name: "QuailKit", targets: ["QuailKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C BLAS/LAPACK through the system OpenBLAS; only LinearAlgebra imports it.
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Element types, ggml type table, shapes, half-precision conversion, mapped files.
        .target(name: "TensorCore"),
        // safetensors reader/writer (single file and sharded checkpoints).
        .target(name: "SafeTensors", dependencies: ["TensorCore"]),
        // GGUF v2/v3 reader and v3 writer.
        .target(name: "GGUF", dependencies: ["TensorCore"]),
        // ggml block codecs and bitsandbytes 4-bit codecs.
        .target(name: "Quantization", dependencies: ["TensorCore"]),
        // Dense linear algebra over OpenBLAS.
        .target(name: "LinearAlgebra", dependencies: ["COpenBLAS", "TensorCore"]),
        // Byte-level BPE tokenizers (HF tokenizer.json and GGUF tokenizer.ggml.*), no file I/O.
        .target(name: "Tokenizers", dependencies: ["TensorCore"]),
        // Element-wise kernels in C, compiled for the x86-64 baseline and for AVX2 + FMA, picked at run time.
        .target(name: "CKernels", linkerSettings: [.linkedLibrary("m")]),
        // llama-family forward pass on CPU (F32, OpenBLAS GEMM), activation observers.
        .target(name: "Transformer", dependencies: ["TensorCore", "LinearAlgebra", "CKernels"]),
        // LoRA initialisation solvers (zero, SVD, LoftQ, QuAILoRA, closed-form calibrated optimum).
        .target(name: "LowRankInit", dependencies: ["LinearAlgebra", "TensorCore"]),
        // Bundle manifests, signing and verification (OpenSSF model-signing compatible); only importer of Crypto.
        .target(
            name: "Packaging",
            dependencies: ["TensorCore", .product(name: "Crypto", package: "swift-crypto")]),
        // Pipeline used by the CLI and the tests: inspect, convert, quantize, eval, ...
        .target(
            name: "QuailKit",
            dependencies: [
                "TensorCore", "SafeTensors", "GGUF", "Quantization", "LinearAlgebra", "Tokenizers", "Transformer",
                "LowRankInit", "Packaging",
            ]),
        .executableTarget(
            name: "quail",
            dependencies: [
                "QuailKit", "Packaging", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "TensorCore"]),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "TensorCore"]),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization", "TensorCore"]),
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra", "TensorCore"]),
        .testTarget(name: "LowRankInitTests", dependencies: ["LowRankInit", "LinearAlgebra", "TensorCore"]),
        .testTarget(name: "PackagingTests", dependencies: ["Packaging", "TensorCore"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "TensorCore"]),
        .testTarget(
            name: "TransformerTests", dependencies: ["Transformer", "LinearAlgebra", "TensorCore", "CKernels"]),
        .testTarget(
            name: "QuailKitTests", dependencies: ["QuailKit", "TensorCore", "SafeTensors", "GGUF", "Transformer"]),
    ]
)
