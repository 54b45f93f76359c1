// swift-tools-version: 6.1
// Kindred: a similarity database for image collections.
// Module ownership follows Schema/README.md: C shims own nothing but a modulemap; KindredCore
// owns shared value types; each Kindred* library owns one concern and takes a Logger.
import PackageDescription

/// Debian packages each system library comes from; `providers` lets SwiftPM tell a user what to
/// install, and scripts/setup.sh installs exactly this list.
func systemLibrary(_ name: String, apt: [String], pkgConfig: String? = nil) -> Target {
    .systemLibrary(name: name, pkgConfig: pkgConfig, providers: [.apt(apt)])
}

/// Optimised even in debug builds (the tests decode, embed and index real-size inputs), but with
/// Swift's bounds and overflow checks kept: these modules take sizes from files (image headers,
/// weight files, .npy arrays), and a check that traps is a crash where -Ounchecked
/// would be a heap overrun. Measured at the cost of 0-3 % (Benchmarks/RESULTS.md, "Checked
/// optimisation"); the hot kernels that take no size from a file are C (CKindredKernels).
let optimisedChecked: [SwiftSetting] = [.unsafeFlags(["-O"])]

let package = Package(
    name: "Kindred",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kindredd", targets: ["kindredd"]),
        .executable(name: "kindred", targets: ["kindred"]),
        .executable(name: "kindred-decode", targets: ["kindred-decode"]),
        .library(name: "KindredCore", targets: ["KindredCore"]),
        .library(name: "KindredStore", targets: ["KindredStore"]),
        .library(name: "KindredIndex", targets: ["KindredIndex"]),
        .library(name: "KindredFeatures", targets: ["KindredFeatures"]),
        .library(name: "KindredImaging", targets: ["KindredImaging"]),
        .library(name: "KindredProtocol", targets: ["KindredProtocol"]),
        .library(name: "KindredAnalysis", targets: ["KindredAnalysis"]),
        // For the fuzz package's command-service target.
        .library(name: "KindredEngine", targets: ["KindredEngine"]),
        .library(name: "KindredServer", targets: ["KindredServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        systemLibrary("CLMDB", apt: ["liblmdb-dev"]),
        systemLibrary("CXXHash", apt: ["libxxhash-dev"]),
        systemLibrary("COpenBLAS", apt: ["libopenblas-dev", "liblapacke-dev"]),
        systemLibrary("CTurboJPEG", apt: ["libturbojpeg0-dev"]),
        systemLibrary("CSPNG", apt: ["libspng-dev"]),
        systemLibrary("CISAL", apt: ["libisal-dev"]),
        systemLibrary("CWebP", apt: ["libwebp-dev"]),
        systemLibrary("CTIFF", apt: ["libtiff-dev"], pkgConfig: "libtiff-4"),
        systemLibrary("CGIF", apt: ["libgif-dev"]),
        systemLibrary("CHEIF", apt: ["libheif-dev"], pkgConfig: "libheif"),
        systemLibrary("COpenJPEG", apt: ["libopenjp2-7-dev"], pkgConfig: "libopenjp2"),
        systemLibrary("CLCMS2", apt: ["liblcms2-dev", "libgs-common"], pkgConfig: "lcms2"),
        systemLibrary("CLibRaw", apt: ["libraw-dev"]),
        systemLibrary("CFreeType", apt: ["libfreetype-dev", "fonts-dejavu-core"], pkgConfig: "freetype2"),

        // SIMD distance kernels with run-time CPU dispatch; why C is explained in its header.
        .target(name: "CKindredKernels", cSettings: [.unsafeFlags(["-O3"])]),

        .target(
            name: "KindredCore",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "KindredStore",
            dependencies: [
                "KindredCore", "CLMDB", "CKindredKernels",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "KindredIndex",
            dependencies: [
                "KindredCore", "COpenBLAS", "CKindredKernels", "CXXHash",
                .product(name: "Logging", package: "swift-log"),
            ],
            // Distance kernels are the hot loop of every search; they are built optimised even in
            // debug builds so the recall tests run real-size workloads in seconds. This module keeps
            // -Ounchecked, alone of those that read files: its graph walk costs 25 % more
            // instructions with Swift's checks (callgrind, Benchmarks/RESULTS.md "Checked
            // optimisation"), and its one reader of outside sizes, the snapshot loader, bounds every
            // header field explicitly (n < 2^32, parameters validated) before any arithmetic, checks
            // the file's length before allocating, and is fuzzed (Fuzz/fuzz-snapshot).
            swiftSettings: [.unsafeFlags(["-Ounchecked"])]
        ),
        .target(name: "KindredWatch", dependencies: ["KindredCore", .product(name: "Logging", package: "swift-log")]),
        // The wire protocol, without NIO, so the CLI and the daemon share it.
        .target(name: "KindredProtocol", dependencies: ["KindredCore"]),
        .target(
            name: "KindredImaging",
            dependencies: [
                "KindredCore", "CTurboJPEG", "CSPNG", "CISAL", "CWebP", "CTIFF", "CGIF", "CHEIF", "COpenJPEG", "CLCMS2",
                "CLibRaw", "CKindredKernels",
            ],
            swiftSettings: optimisedChecked
        ),
        .target(
            name: "KindredFeatures",
            dependencies: ["KindredCore", "KindredImaging", "COpenBLAS", "CKindredKernels"],
            swiftSettings: optimisedChecked
        ),
        // PCA, UMAP, HDBSCAN, k-means and clustering metrics, on BLAS/LAPACK.
        .target(
            name: "KindredAnalysis",
            dependencies: [
                "KindredCore", "KindredIndex", "COpenBLAS", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: optimisedChecked
        ),
        // What people look at: the map page, the refit report and contact sheets.
        .target(
            name: "KindredVisuals",
            dependencies: [
                "KindredCore", "KindredStore", "KindredImaging", "CFreeType",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Web"]
        ),
        // The engine: one collection (ingestion, live indexes, refits, placement), drivable
        // without a socket.
        .target(
            name: "KindredEngine",
            dependencies: [
                "KindredCore", "KindredStore", "KindredIndex", "KindredImaging", "KindredFeatures", "KindredWatch",
                "KindredAnalysis",
                "COpenBLAS",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The server: the socket, connections, the verbs, configuration and systemd, over the engine.
        .target(
            name: "KindredServer",
            dependencies: [
                "KindredCore", "KindredStore", "KindredIndex", "KindredImaging", "KindredFeatures", "KindredProtocol",
                "KindredEngine",
                "KindredAnalysis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),

        .executableTarget(
            name: "kindred",
            dependencies: [
                "KindredCore", "KindredStore", "KindredIndex", "KindredFeatures", "KindredImaging", "KindredProtocol",
                "KindredAnalysis", "KindredVisuals", "KindredEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "kindredd",
            dependencies: [
                "KindredCore", "KindredStore", "KindredEngine", "KindredServer", "KindredFeatures", "KindredImaging",
                "KindredWatch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // A child process for crash tests: writes to the store until it is killed.
        // The child process that decodes camera RAW files (KindredImaging's DecoderProcess).
        .executableTarget(name: "kindred-decode", dependencies: ["KindredImaging"]),
        .executableTarget(
            name: "kindred-store-writer",
            dependencies: ["KindredCore", "KindredStore"],
            path: "Tests/Helpers/StoreWriter"
        ),
        .executableTarget(
            name: "kindred-bench-preload",
            dependencies: [
                "KindredCore", "KindredStore", "KindredEngine", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/Preload"
        ),
        .executableTarget(
            name: "kindred-bench-maprun",
            dependencies: [
                "KindredCore", "KindredStore", "KindredImaging", "KindredEngine",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/MapRun"
        ),
        .executableTarget(
            name: "kindred-bench-store",
            dependencies: ["KindredCore", "KindredStore"],
            path: "Benchmarks/StoreBench"
        ),

        .testTarget(name: "KindredCoreTests", dependencies: ["KindredCore", "KindredTestSupport"]),
        .testTarget(
            name: "KindredAnalysisTests",
            dependencies: ["KindredCore", "KindredAnalysis", "KindredTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "KindredIndexTests",
            dependencies: ["KindredCore", "KindredIndex", "COpenBLAS", "CKindredKernels", "KindredTestSupport"]),
        // What the test targets share: temporary directories, the logger, the products directory,
        // image encoders and the converted weights. Helpers are defined here once.
        .target(
            name: "KindredTestSupport",
            dependencies: [
                "KindredImaging", "KindredFeatures", "CTurboJPEG", "CSPNG", "CWebP", "CTIFF", "CGIF", "CHEIF",
                "COpenJPEG", "CLCMS2",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Support",
            // Scripts the tests run: Chromium through DevTools, and the export read back with numpy.
            exclude: ["browser.py", "check_export.py"]
        ),
        .testTarget(
            name: "KindredProtocolTests", dependencies: ["KindredCore", "KindredProtocol", "KindredTestSupport"]),
        .testTarget(
            name: "KindredWatchTests",
            dependencies: [
                "KindredCore", "KindredWatch", "KindredTestSupport", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "KindredDaemonTests",
            dependencies: [
                "KindredCore", "KindredEngine", "KindredServer", "KindredStore", "KindredIndex", "KindredImaging",
                "KindredFeatures", "KindredProtocol",
                "KindredTestSupport", "kindred", "kindredd",
            ]
        ),
        .testTarget(
            name: "KindredImagingTests",
            dependencies: ["KindredCore", "KindredImaging", "KindredTestSupport", "CKindredKernels"]),
        .testTarget(
            name: "KindredFeaturesTests",
            dependencies: ["KindredCore", "KindredFeatures", "KindredImaging", "KindredTestSupport"],
            exclude: ["Fixtures/make_oracle_fixture.py"],
            resources: [.copy("Fixtures/oracle_features.npy"), .copy("Fixtures/oracle_logits.npy")]
        ),
        .testTarget(
            name: "KindredVisualsTests",
            dependencies: [
                "KindredCore", "KindredStore", "KindredImaging", "KindredVisuals", "KindredTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "KindredStoreTests",
            dependencies: ["KindredCore", "KindredStore", "KindredTestSupport", "kindred-store-writer"]
        ),
    ]
)
