import FuzzSupport

/// HEIC and AVIF (libheif): an input without an ISO media `ftyp` box is given a HEIC one, so every
/// input reaches libheif; the seeds (HEIC and AVIF from heif-enc) carry their own.
@_cdecl("fuzz_heif_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in
        let boxed = size >= 8 && Array(UnsafeBufferPointer(start: data! + 4, count: 4)) == Array("ftyp".utf8)
        return fuzzDecoding(data!, size, magic: boxed ? [] : heicBox)
    }
}

/// A 24-byte `ftyp` box: major brand `heic`, compatible with `mif1` and `heic`.
let heicBox: [UInt8] = [0, 0, 0, 24] + Array("ftypheic".utf8) + [0, 0, 0, 0] + Array("mif1heic".utf8)
