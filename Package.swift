// swift-tools-version: 6.1
import PackageDescription

/// Tributary: a distributed rollout/learner service.
///
/// Layout (see docs/architecture.md):
/// - `CZeroMQ`: system library (libzmq via pkg-config); imported only by `Transport`.
/// - `CAllocator`: a few lines of C for glibc's `mallopt`, which Swift's Glibc module lacks.
/// - `COpenBLAS`: system library (OpenBLAS via pkg-config); imported only by `NeuralNet`.
/// - `CZlib`: system library (zlib via pkg-config): PNG's deflate and CRC-32; imported only by `Plotting`.
/// - `Plotting`: charts as SVG and PNG (own small renderer: no Swift plotting library here).
/// - `Domain`: the leaf of value types every layer shares (EnvSpec, ActionSpace, ElementType,
///   SplitMix64); no dependencies, no generated code.
/// - `CKernels`: the networks' elementwise loops in C, multi-versioned for AVX-512/AVX2/SSE2;
///   imported only by `NeuralNet`.
/// - `NeuralNet`: layers, heads, optimizer on `cblas_sgemm`; the learning core builds on it.
/// - `Corrections`: off-policy corrections (V-trace, …) as pure functions over a batch.
/// - `Environments`: exact ports of gymnasium's classic-control tasks, vectorised.
/// - `Protocol`: wire schema (generated protobuf, committed), frames, codec, validation. No I/O.
/// - `TensorBoard`: TensorBoard event files (TFRecord framing, CRC-32C, the Event proto subset).
/// - `Locking`: the project's `Mutex` (the standard library's, or a pthread mutex that
///   ThreadSanitizer sees in `make tsan` builds).
/// - `BuildInfo`: `git describe` of the checkout (generated before each build by
///   `BuildInfoPlugin`) and the protocol versions: `--version`, Hello, `tributary_build_info`.
/// - `PolicyArtifacts`: a policy evaluated in the built-in environments, and exported as
///   safetensors (`tributary eval`, `tributary export`, the learner's best checkpoint).
/// - `Events`: the JSON lines the executables print (ready, summary, worker and demo events) as
///   Codable structs, shared by the writers and every reader.
/// - `Transport`: the only importer of libzmq: context, socket thread, mailboxes.
/// - `Telemetry`: Prometheus `/metrics` and `/healthz` (swift-metrics → swift-prometheus, served
///   by FlyingFox), the live progress line.
/// - `Learner`, `Rollout`, `Monitor`: the logic of the three executables, imported by tests.
/// - `LearnerCommand`, `RolloutCommand`, `TributaryCommand`: thin executables.
/// - `BenchCommand` (`tributary-bench`): micro-benchmarks run beside the peers' scripts.
let package = Package(
    name: "Tributary",
    products: [
        .executable(name: "learner", targets: ["LearnerCommand"]),
        .executable(name: "rollout-worker", targets: ["RolloutCommand"]),
        .executable(name: "tributary", targets: ["TributaryCommand"]),
        .executable(name: "tributary-bench", targets: ["BenchCommand"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .target(
            name: "CAllocator"
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "Plotting",
            dependencies: ["CZlib"]
        ),
        .target(
            name: "CKernels"
        ),
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(
            name: "Domain"
        ),
        .target(
            name: "Corrections"
        ),
        // The buffer is generic over its items and its callers live in other modules: without
        // cross-module optimization every call ran unspecialized (witness tables, boxed items),
        // and the learner lost 30 % of its updates per second in the demo when it moved here.
        .target(
            name: "Experience",
            dependencies: ["Domain"],
            swiftSettings: [.unsafeFlags(["-cross-module-optimization"])]
        ),
        .target(
            name: "Locking"
        ),
        // `git describe` of the checkout, generated before every build (Plugins/BuildInfoPlugin).
        .target(
            name: "BuildInfo",
            dependencies: ["Protocol"],
            plugins: ["BuildInfoPlugin"]
        ),
        .plugin(
            name: "BuildInfoPlugin",
            capability: .buildTool()
        ),
        .target(
            name: "Events",
            dependencies: [
                "Protocol",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .target(
            name: "Training",
            dependencies: ["Domain", "NeuralNet", "Corrections"]
        ),
        // Policies as artefacts: evaluation in the built-in environments, safetensors export.
        .target(
            name: "PolicyArtifacts",
            dependencies: ["Domain", "NeuralNet", "Environments", "Training"]
        ),
        .target(
            name: "Environments",
            dependencies: ["Domain"]
        ),
        .target(
            name: "NeuralNet",
            dependencies: ["COpenBLAS", "CKernels", "Domain"]
        ),
        .target(
            name: "Protocol",
            dependencies: [
                "Domain",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["tributary.proto"]
        ),
        .target(
            name: "SafeIO",
            dependencies: ["Locking"]
        ),
        .target(
            name: "TensorBoard",
            dependencies: [
                "Locking", "SafeIO",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["tensorboard_event.proto"]
        ),
        .target(
            name: "Transport",
            dependencies: [
                "CZeroMQ",
                "Locking",
                "Protocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .target(
            name: "Telemetry",
            dependencies: [
                "Locking",
                "Protocol",
                "BuildInfo",
                "Domain",
                "Experience",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
            ]
        ),
        .target(
            name: "Learner",
            dependencies: [
                "Domain", "Experience", "Events", "Locking", "SafeIO", "Protocol", "Transport", "CAllocator", "NeuralNet", "Corrections", "Training", "Environments", "Telemetry", "TensorBoard", "PolicyArtifacts",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .target(
            name: "Rollout",
            dependencies: [
                "Domain", "Events", "Locking", "Protocol", "Transport", "NeuralNet", "Environments", "BuildInfo",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Monitor",
            dependencies: [
                "Domain", "Events", "Locking", "SafeIO", "Protocol", "Transport", "Telemetry", "Plotting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .target(
            name: "Launch",
            dependencies: [
                "Learner", "Rollout", "NeuralNet", "Environments", "Corrections", "Training", "Transport", "SafeIO", "Events", "BuildInfo", "Domain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "LearnerCommand",
            dependencies: ["Launch", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "RolloutCommand",
            dependencies: ["Launch", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "TributaryCommand",
            dependencies: [
                "Monitor", "Protocol", "SafeIO", "Environments", "BuildInfo", "Learner", "PolicyArtifacts", "Launch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "BenchCommand",
            dependencies: [
                "Domain", "Environments", "Learner", "Rollout", "NeuralNet", "Protocol", "Training", "Transport", "BuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What tests share: an embedded learner core (no sockets), a scripted weights channel,
        // and a strict Prometheus text parser. Never linked into a product.
        .target(
            name: "TestSupport",
            dependencies: [
                "Domain", "Experience", "Learner", "Locking", "Protocol", "Rollout",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "FuzzTargets",
            dependencies: [
                "Domain", "Environments", "Experience", "Learner", "Locking", "NeuralNet", "Protocol", "Training", "Corrections",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // libFuzzer entry points (scripts/fuzz.sh builds them with -DFUZZING); in an ordinary
        // build, replayers of their corpora (Fuzz/corpus/<target>), which make test runs.
        .executableTarget(name: "fuzz-codec", dependencies: ["FuzzTargets"], path: "Fuzz/codec"),
        .executableTarget(name: "fuzz-core", dependencies: ["FuzzTargets"], path: "Fuzz/core"),
        .executableTarget(name: "fuzz-trainer", dependencies: ["FuzzTargets"], path: "Fuzz/trainer"),
        .testTarget(
            name: "ExperienceTests",
            dependencies: ["Experience", "Domain"]
        ),
        .testTarget(
            name: "TrainingTests",
            dependencies: ["Training", "Corrections", "NeuralNet", "Domain", "Environments", "Rollout"]
        ),
        .testTarget(
            name: "RolloutTests",
            dependencies: [
                "Rollout", "Protocol", "Domain", "Environments", "NeuralNet", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "FuzzTests",
            dependencies: ["FuzzTargets"]
        ),
        .testTarget(
            name: "ProtocolTests",
            dependencies: ["Protocol"],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "PlottingTests",
            dependencies: ["Plotting"]
        ),
        .testTarget(
            name: "TensorBoardTests",
            dependencies: ["TensorBoard", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "CorrectionsTests",
            dependencies: ["Corrections"]
        ),
        .testTarget(
            name: "NeuralNetTests",
            dependencies: ["NeuralNet", "Domain"],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "EnvironmentsTests",
            dependencies: ["Environments", "Domain"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TransportTests",
            dependencies: ["Transport", "Protocol", "Locking"]
        ),
        .testTarget(
            name: "LaunchTests",
            dependencies: ["Launch", "Learner", "Rollout", "Environments", "Domain", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(
            name: "PolicyArtifactsTests",
            dependencies: ["PolicyArtifacts", "NeuralNet"]
        ),
        .testTarget(
            name: "SafeIOTests",
            dependencies: ["SafeIO", "Locking"]
        ),
        .testTarget(
            name: "LearnerTests",
            dependencies: ["Learner", "Domain", "Environments", "Experience", "Locking", "Protocol", "Transport", "Rollout", "NeuralNet", "TestSupport", "Training"]
        ),
        .testTarget(
            name: "MonitorTests",
            dependencies: ["Monitor", "Protocol", "Domain"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TelemetryTests",
            dependencies: ["Telemetry", "Protocol", "Domain", "TestSupport"]
        ),
        .testTarget(
            name: "EventsTests",
            dependencies: ["Events", "Protocol"]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Domain", "Environments", "Events", "Protocol", "Transport", "Monitor", "Rollout", "Telemetry", "TestSupport",
                "Learner", "PolicyArtifacts", "NeuralNet",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
