import FuzzSupport

/// Camera RAW, decoded in a child (`fuzz-decode-child`, LibRaw's crashes contained there): an
/// input that is not a TIFF structure is given a little-endian TIFF header, so every input reaches
/// the RAW check and, when it names a camera, the child; the seeds (DNGs laid out by
/// make-seeds.py, with and without a preview, and a file that kills LibRaw) carry their own.
/// Each input is also read as a child's reply, which the parent must survive whatever it says.
@_cdecl("fuzz_raw_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in
        fuzzDecoderReply(data!, size)
        let head = Array(UnsafeBufferPointer(start: data, count: min(size, 2)))
        let tiff = head == [0x49, 0x49] || head == [0x4D, 0x4D]
        return fuzzDecoding(data!, size, magic: tiff ? [] : [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00])
    }
}
