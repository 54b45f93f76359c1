import FuzzSupport
import KindredImaging

/// TIFF (libtiff): inputs start as a little-endian TIFF; seeds hold big-endian and BigTIFF too.
@_cdecl("fuzz_tiff_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzDecodingHere(data!, size, format: .tiff, magic: [0x49, 0x49, 0x2A, 0x00])
    }
}
