import FuzzSupport

/// TIFF (libtiff): inputs start as a little-endian TIFF; seeds hold big-endian and BigTIFF too.
@_cdecl("fuzz_tiff_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzDecoding(data!, size, magic: [0x49, 0x49, 0x2A, 0x00]) }
}
