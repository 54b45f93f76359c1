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

/// The cosine similarity of two vectors, accumulated in Double (neither need be normalised).
public func cosine<A: Collection<Float>, B: Collection<Float>>(_ a: A, _ b: B) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        na += Double(x) * Double(x)
        nb += Double(y) * Double(y)
    }
    return dot / (na.squareRoot() * nb.squareRoot())
}
