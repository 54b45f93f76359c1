import FuzzSupport

/// BMP (hand-written, BMPDecoder): every input starts as a BMP.
@_cdecl("fuzz_bmp_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzDecoding(data!, size, magic: [0x42, 0x4D]) }
}
