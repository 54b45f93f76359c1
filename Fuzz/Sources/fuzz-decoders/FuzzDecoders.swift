import FuzzSupport

/// Any bytes as an image file: the format is sniffed from the content, as the daemon does.
@_cdecl("fuzz_decoders_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzDecoding(data!, size) }
}
