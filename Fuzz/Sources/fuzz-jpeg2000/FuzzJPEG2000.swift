import FuzzSupport
import KindredImaging

/// JPEG 2000 (OpenJPEG): an input that is neither a JP2 file nor a codestream is given a
/// codestream's SOC and SIZ markers, so every input reaches OpenJPEG; the seeds (from
/// opj_compress) carry their own.
@_cdecl("fuzz_jpeg2000_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in
        let head = Array(UnsafeBufferPointer(start: data, count: min(size, 4)))
        let recognised = head == [0, 0, 0, 0x0C] || head == [0xFF, 0x4F, 0xFF, 0x51]
        return fuzzDecodingHere(data!, size, format: .jp2, magic: recognised ? [] : [0xFF, 0x4F, 0xFF, 0x51])
    }
}
