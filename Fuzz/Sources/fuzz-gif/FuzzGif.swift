import FuzzSupport

/// GIF (giflib): every input starts as a GIF.
@_cdecl("fuzz_gif_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzDecoding(data!, size, magic: Array("GIF89a".utf8)) }
}
