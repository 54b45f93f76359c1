import CFuzzer
import Foundation
import KindredCore

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
public func runFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
    _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &arguments, test)
}

/// `bytes` with Kindred's checksum of `covered` written little-endian at `offset`: the weight
/// target recomputes it so mutations get past the check to the parser behind it.
public func withChecksum(_ bytes: [UInt8], of covered: Range<Int>, at offset: Int) -> [UInt8] {
    var checksum = Checksum()
    bytes.withUnsafeBytes { checksum.update(UnsafeRawBufferPointer(rebasing: $0[covered])) }
    var patched = bytes
    for i in 0..<8 { patched[offset + i] = UInt8(truncatingIfNeeded: checksum.value >> (8 * UInt64(i))) }
    return patched
}
