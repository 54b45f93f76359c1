import FuzzSupport
import KindredImaging

/// Any bytes as an image file: the format is sniffed from the content, as the daemon does.
/// A 4-megapixel limit keeps each run fast; the limits themselves are part of what is checked.
@_cdecl("fuzz_decoders_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzDecoders(data!, size) }
}

func fuzzDecoders(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var options = DecodeOptions()
    options.pixelLimit = 4_000_000
    options.streamedPixelLimit = 16_000_000
    _ = try? ImageDecoder.decode(UnsafeRawBufferPointer(start: data, count: size), path: "fuzz", options: options)
    return 0
}
