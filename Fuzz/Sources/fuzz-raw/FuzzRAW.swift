import FuzzSupport

/// Camera RAW (LibRaw): an input that is not a TIFF structure is given a little-endian TIFF
/// header, so every input reaches the RAW check and, when it names a camera, LibRaw; the seeds
/// (DNGs laid out by make-seeds.py, with and without a preview) carry their own.
@_cdecl("fuzz_raw_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in
        let head = Array(UnsafeBufferPointer(start: data, count: min(size, 2)))
        let tiff = head == [0x49, 0x49] || head == [0x4D, 0x4D]
        return fuzzDecoding(data!, size, magic: tiff ? [] : [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00])
    }
}
