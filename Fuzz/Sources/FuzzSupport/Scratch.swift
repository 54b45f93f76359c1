import CFuzzer
import Foundation

/// The loaders under test read files, so each input is written to one scratch file per process,
/// in /dev/shm (memory) when there is one.
public final class ScratchFile: @unchecked Sendable {
    public let url: URL

    public init() {
        let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        url = URL(fileURLWithPath: directory).appendingPathComponent("kindred-fuzz-\(getpid())")
    }

    public func write(_ bytes: [UInt8]) -> URL {
        FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
        return url
    }
}

/// libFuzzer runs inputs one at a time on one thread.
public let scratch = ScratchFile()

/// Runs libFuzzer on `test`: what each target's entry point does.
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
                      _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &arguments, test)
}
