import Foundation
@_spi(Fuzzing) import KindredImaging

/// Decodes fuzzer bytes as the daemon would a file from a watched folder, under a 4-megapixel
/// limit so each run is fast (the limits themselves are part of what is checked). With `magic`,
/// the input is made to start with it, so every input reaches that one format's decoder.
public func fuzzDecoding(_ data: UnsafePointer<UInt8>, _ size: Int, magic: [UInt8] = []) -> CInt {
    var options = DecodeOptions()
    options.decoderProcess = decodeChild
    options.pixelLimit = 4_000_000
    options.streamedPixelLimit = 16_000_000
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if !magic.isEmpty, !bytes.starts(with: magic) { bytes = magic + bytes }
    _ = bytes.withUnsafeBytes { try? ImageDecoder.decode($0, path: "fuzz", options: options) }
    return 0
}

/// An isolated format's decoder run here, as the child runs it (`DecoderProcess.decodeHere`), then
/// the parent's colour conversion of its embedded profile, so libFuzzer sees the decoder's
/// coverage and AddressSanitizer its faults; `fuzzDecoding` sends the same formats to a child,
/// whose faults the parent only has to survive.
public func fuzzDecodingHere(
    _ data: UnsafePointer<UInt8>, _ size: Int, format: ImageFormat, magic: [UInt8] = []
) -> CInt {
    var options = DecodeOptions()
    options.pixelLimit = 4_000_000
    options.streamedPixelLimit = 16_000_000
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if !magic.isEmpty, !bytes.starts(with: magic) { bytes = magic + bytes }
    guard var decoded = bytes.withUnsafeBytes({ try? DecoderProcess.decodeHere($0, format: format, options: options) })
    else { return 0 }
    ImageDecoder.convertToSRGB(&decoded, options: options)  // as the parent does with the child's reply
    return 0
}

/// The child that decodes RAW inputs: `fuzz-decode-child`, built beside the targets.
let decodeChild = DecoderProcess(
    executable: URL(fileURLWithPath: DecoderProcess.besideExecutable.executable).deletingLastPathComponent()
        .appendingPathComponent("fuzz-decode-child").path)

/// The parent's reading of a child's reply, as a child LibRaw's bugs had taken over could write it.
public func fuzzDecoderReply(_ data: UnsafePointer<UInt8>, _ size: Int) {
    var options = DecodeOptions()
    options.pixelLimit = 4_000_000
    _ = try? DecoderProcess.readReply(Array(UnsafeBufferPointer(start: data, count: size)), options: options)
}
