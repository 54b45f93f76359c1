import Foundation
import Logging

/// A fresh temporary directory, removed by nobody: tests keep their evidence on failure.
public func temporaryDirectory(_ label: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kindred-\(label)-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The logger every test hands to the libraries.
public let testLogger = Logger(label: "kindred.tests")

/// The package's root directory, for reading Schema/ and the README.
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The directory holding the built products (the test bundle sits beside the executables).
public let productsDirectory: URL = {
    let executable =
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: executable).deletingLastPathComponent()
}()
