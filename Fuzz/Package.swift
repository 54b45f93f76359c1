// swift-tools-version: 6.0
// libFuzzer targets for the parsers that read untrusted bytes: the socket protocol, the image
// decoders, the weight file, the index snapshot and the saved placement model; and for what the daemon's command service
// does with parsed requests. A separate package because every module
// must be built with -sanitize=fuzzer (coverage) and address; `Fuzz/run.sh` builds and runs them.
import PackageDescription

let fuzzer: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

func target(_ name: String, _ dependencies: [String]) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["FuzzSupport"] + dependencies.map { .product(name: $0, package: "Kindred") } + [
            .product(name: "Logging", package: "swift-log")
        ], swiftSettings: fuzzer)
}

let package = Package(
    name: "KindredFuzz",
    dependencies: [
        .package(name: "Kindred", path: ".."), .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CFuzzer"),
        .target(
            name: "FuzzSupport",
            dependencies: [
                "CFuzzer", .product(name: "KindredCore", package: "Kindred"),
                .product(name: "KindredImaging", package: "Kindred"),
            ]),
        target("fuzz-protocol", ["KindredProtocol"]),
        target("fuzz-decoders", ["KindredImaging"]),
        // One a decoder that takes files from outside, each reaching its decoder on every input.
        target("fuzz-tiff", ["KindredImaging"]),
        target("fuzz-gif", ["KindredImaging"]),
        target("fuzz-bmp", ["KindredImaging"]),
        target("fuzz-heif", ["KindredImaging"]),
        target("fuzz-jpeg2000", ["KindredImaging"]),
        target("fuzz-raw", ["KindredImaging"]),
        // The child RAW inputs are decoded in (DecoderProcess), instrumented like the rest.
        .executableTarget(
            name: "fuzz-decode-child", dependencies: [.product(name: "KindredImaging", package: "Kindred")]),
        target("fuzz-weights", ["KindredFeatures"]),
        target("fuzz-snapshot", ["KindredIndex"]),
        target("fuzz-placement", ["KindredEngine", "KindredAnalysis", "KindredCore"]),
        target(
            "fuzz-service", ["KindredEngine", "KindredServer", "KindredImaging", "KindredProtocol", "KindredStore"]),
    ]
)
