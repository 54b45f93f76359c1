import COpenJPEG
import Foundation  // trimmingCharacters

/// JPEG 2000 through OpenJPEG, as JP2 boxes or a raw J2K codestream. The wavelet's own shortcut
/// does the shrinking: the decoder discards the finest resolution levels the output does not
/// need, so a 100-megapixel master with six levels is decoded at a 32nd of its area, and the area
/// resampler takes it the rest of the way.
///
/// The size rules are `DecodeOptions`': the full size is admitted from the header before anything
/// is decoded, and what OpenJPEG holds after the reduction (one 32-bit sample per component per
/// pixel) must fit the byte budget of an RGB image held whole. Colour: greyscale, sRGB, sYCC
/// (converted) and CMYK (through `ColourManagement`), each with alpha composited on white;
/// palettes and channel definitions are applied by OpenJPEG.
enum JPEG2000Decoder {
    /// Components decoded at most: colour and alpha. Files with more (multispectral) are refused
    /// before OpenJPEG allocates them.
    static let maxComponents = 4

    static func decode(
        _ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions
    ) throws(ImageError) -> DecodedImage {
        let isCodestream = bytes.count >= 2 && bytes[0] == 0xFF && bytes[1] == 0x4F
        let session = try Session(bytes, codec: isCodestream ? OPJ_CODEC_J2K : OPJ_CODEC_JP2, path: path)
        defer { session.close() }
        var image: UnsafeMutablePointer<opj_image_t>?
        guard opj_read_header(session.stream, session.codec, &image) != 0, let image else {
            throw session.failure("header", kind: .corrupt)
        }
        defer { opj_image_destroy(image) }
        let header = image.pointee
        guard header.x1 > header.x0, header.y1 > header.y0, header.numcomps >= 1, header.comps != nil else {
            throw ImageError(path: path, kind: .corrupt, reason: "corrupt JPEG 2000: header gives an empty image")
        }
        let width = Int(header.x1 - header.x0), height = Int(header.y1 - header.y0)
        try options.admit(width: width, height: height, path: path)
        let components = Int(header.numcomps)
        guard components <= maxComponents else {
            throw ImageError(
                path: path, kind: .unsupportedFormat,
                reason: "JPEG 2000 with \(components) components (at most \(maxComponents): colour and alpha)")
        }
        let (outputWidth, outputHeight) = options.outputSize(width: width, height: height)

        let grid = (Int(header.x0), Int(header.y0), Int(header.x1), Int(header.y1))
        let levels = session.resolutionLevels(components: components)
        let reduce = discardedLevels(grid: grid, levels: levels, covering: (outputWidth, outputHeight))
        let held = reduced(grid, by: reduce)
        // OpenJPEG holds a 32-bit sample a component.
        try options.admit(
            width: held.width, height: held.height, heldWhole: true, bytesPerPixel: components * 4, path: path)
        if reduce > 0, opj_set_decoded_resolution_factor(session.codec, OPJ_UINT32(reduce)) == 0 {
            throw session.failure("resolution level \(reduce)", kind: .corrupt)
        }
        guard opj_decode(session.codec, session.stream, image) != 0,
            opj_end_decompress(session.codec, session.stream) != 0
        else { throw session.failure("image data", kind: .corrupt) }

        let planes = try Planes(image.pointee, path: path)
        // A JP2 `colr` box may carry an ICC profile: CMYK inks are converted through it (or the
        // default CMYK profile) row by row; RGB is converted by ImageDecoder once shrunk.
        let icc = image.pointee
        let profile =
            icc.icc_profile_buf != nil && icc.icc_profile_len > 0
            ? Array(UnsafeBufferPointer(start: icc.icc_profile_buf, count: Int(icc.icc_profile_len))) : nil
        let cmykTransform =
            planes.model == .cmyk && options.managesColour
            ? ColourManagement.transform(profile: profile, source: .cmyk) : nil
        let (w, h) = (min(outputWidth, planes.width), min(outputHeight, planes.height))
        var resampler = AreaResampler(
            inputWidth: planes.width, inputHeight: planes.height, outputWidth: w, outputHeight: h)
        var rgb = [UInt8](repeating: 0, count: planes.width * 3)
        var inks = [UInt8](repeating: 0, count: cmykTransform == nil ? 0 : planes.width * 4)
        for y in 0..<planes.height {
            if let cmykTransform {
                inks.withUnsafeMutableBufferPointer { planes.inks(row: y, into: $0.baseAddress!) }
                inks.withUnsafeBytes { source in
                    rgb.withUnsafeMutableBytes {
                        cmykTransform.apply(source.baseAddress!, to: $0.baseAddress!, pixels: planes.width)
                    }
                }
            } else {
                rgb.withUnsafeMutableBufferPointer { planes.convert(row: y, into: $0.baseAddress!) }
            }
            rgb.withUnsafeBufferPointer { resampler.add(row: $0.baseAddress!) }
        }
        return DecodedImage(
            image: resampler.output, format: .jp2, originalWidth: width, originalHeight: height,
            colourProfile: cmykTransform?.profileName, embeddedProfile: planes.model == .rgb ? profile : nil,
            resampleTime: resampler.busy)
    }

    /// How many of the finest resolution levels can be discarded with the image still covering
    /// `output`: the coarsest sufficient level, keeping at least one.
    static func discardedLevels(
        grid: (x0: Int, y0: Int, x1: Int, y1: Int), levels: Int, covering output: (width: Int, height: Int)
    ) -> Int {
        var factor = 0
        while factor + 1 < levels {
            let next = reduced(grid, by: factor + 1)
            guard next.width >= output.width, next.height >= output.height else { break }
            factor += 1
        }
        return factor
    }

    /// The image's size with `factor` resolution levels discarded, as JPEG 2000 defines it: each
    /// edge of the reference grid divided by 2^factor, rounded up.
    static func reduced(_ grid: (x0: Int, y0: Int, x1: Int, y1: Int), by factor: Int) -> (width: Int, height: Int) {
        func edge(_ v: Int) -> Int { (v + (1 << factor) - 1) >> factor }
        return (edge(grid.x1) - edge(grid.x0), edge(grid.y1) - edge(grid.y0))
    }
}

/// A codec reading from the caller's buffer, with OpenJPEG's messages captured instead of printed.
private final class Session {
    struct Source {
        let base: UnsafeRawPointer
        let count: Int
        var offset = 0
    }

    let path: String
    // OpenJPEG's handles are `void **` (its typedefs are `void *`).
    let codec: UnsafeMutablePointer<opj_codec_t?>
    let stream: UnsafeMutablePointer<opj_stream_t?>
    private let source: UnsafeMutablePointer<Source>
    /// OpenJPEG's first error message: the cause, where later ones are consequences.
    private let message = UnsafeMutablePointer<String?>.allocate(capacity: 1)

    init(_ bytes: UnsafeRawBufferPointer, codec format: OPJ_CODEC_FORMAT, path: String) throws(ImageError) {
        self.path = path
        guard let base = bytes.baseAddress, let codec = opj_create_decompress(format),
            let stream = opj_stream_create(1 << 16, 1)
        else { throw ImageError(path: path, kind: .unreadable, reason: "OpenJPEG could not allocate a decoder") }
        self.codec = codec
        self.stream = stream
        source = .allocate(capacity: 1)
        source.initialize(to: Source(base: base, count: bytes.count))
        message.initialize(to: nil)
        opj_set_error_handler(
            codec,
            { text, context in
                let slot = context!.assumingMemoryBound(to: String?.self)
                if slot.pointee == nil, let text {
                    slot.pointee = String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
                }
            }, message)
        opj_set_warning_handler(codec, { _, _ in }, nil)
        opj_set_info_handler(codec, { _, _ in }, nil)
        var parameters = opj_dparameters_t()
        opj_set_default_decoder_parameters(&parameters)
        // Ingestion already runs a decoder per core.
        guard opj_setup_decoder(codec, &parameters) != 0, opj_codec_set_threads(codec, 1) != 0 else {
            close()
            throw ImageError(path: path, kind: .unreadable, reason: "OpenJPEG could not set up a decoder")
        }
        opj_stream_set_user_data(stream, source, nil)
        opj_stream_set_user_data_length(stream, OPJ_UINT64(bytes.count))
        opj_stream_set_read_function(stream) { buffer, count, context in
            let source = context!.assumingMemoryBound(to: Source.self)
            let available = min(count, source.pointee.count - source.pointee.offset)
            // (OPJ_SIZE_T)-1 is the end of the stream; Swift imports size_t as Int.
            guard available > 0, let buffer else { return -1 }
            buffer.copyMemory(from: source.pointee.base + source.pointee.offset, byteCount: available)
            source.pointee.offset += available
            return available
        }
        opj_stream_set_skip_function(stream) { distance, context in
            let source = context!.assumingMemoryBound(to: Source.self)
            let target = min(max(0, source.pointee.offset + Int(distance)), source.pointee.count)
            let skipped = target - source.pointee.offset
            source.pointee.offset = target
            return OPJ_OFF_T(skipped)
        }
        opj_stream_set_seek_function(stream) { position, context in
            let source = context!.assumingMemoryBound(to: Source.self)
            guard position >= 0, position <= source.pointee.count else { return 0 }
            source.pointee.offset = Int(position)
            return 1
        }
    }

    /// The fewest resolution levels any component's default coding style has: how many levels
    /// the decoder may discard, less one.
    func resolutionLevels(components: Int) -> Int {
        var held = opj_get_cstr_info(codec)
        defer { opj_destroy_cstr_info(&held) }
        guard let info = held else { return 1 }
        guard let styles = info.pointee.m_default_tile_info.tccp_info else { return 1 }
        let count = min(components, Int(info.pointee.nbcomps))
        return max(1, (0..<count).map { Int(styles[$0].numresolutions) }.min() ?? 1)
    }

    func failure(_ stage: String, kind: ImageError.Kind) -> ImageError {
        let cause = message.pointee.map { ": \($0)" } ?? ""
        let truncated = source.pointee.offset >= source.pointee.count ? " (the file ends early)" : ""
        return ImageError(path: path, kind: kind, reason: "corrupt JPEG 2000: \(stage)\(cause)\(truncated)")
    }

    func close() {
        opj_stream_destroy(stream)
        opj_destroy_codec(codec)
        source.deallocate()
        message.deinitialize(count: 1)
        message.deallocate()
    }
}

/// The decoded components as 8-bit sRGB rows: each component scaled from its precision, the
/// subsampled ones read at their nearest sample, colour converted, alpha composited on white.
private struct Planes {
    enum Model { case gray, rgb, ycc, cmyk }

    let width: Int, height: Int
    let model: Model
    let samples: [UnsafePointer<OPJ_INT32>]
    let sizes: [(width: Int, height: Int)]
    /// Per component: the offset that makes a signed sample unsigned, and the largest value.
    let offsets: [Int], maxima: [Int]
    let alpha: Int?

    init(_ image: opj_image_t, path: String) throws(ImageError) {
        let count = Int(image.numcomps)
        let components = (0..<count).map { image.comps[$0] }
        func corrupt(_ reason: String) -> ImageError {
            ImageError(path: path, kind: .corrupt, reason: "corrupt JPEG 2000: \(reason)")
        }
        var samples: [UnsafePointer<OPJ_INT32>] = []
        for (i, c) in components.enumerated() {
            guard let data = c.data, c.w > 0, c.h > 0 else { throw corrupt("component \(i) was not decoded") }
            guard (1...31).contains(c.prec) else {
                throw ImageError(
                    path: path, kind: .unsupportedFormat, reason: "JPEG 2000 component \(i) has \(c.prec)-bit samples")
            }
            samples.append(UnsafePointer(data))
        }
        self.samples = samples
        sizes = components.map { (Int($0.w), Int($0.h)) }
        (width, height) = sizes[0]
        offsets = components.map { $0.sgnd != 0 ? 1 << (Int($0.prec) - 1) : 0 }
        maxima = components.map { (1 << Int($0.prec)) - 1 }
        let colourCount: Int
        switch image.color_space {
        case OPJ_CLRSPC_EYCC:
            throw ImageError(path: path, kind: .unsupportedFormat, reason: "JPEG 2000 in e-YCC colour is not supported")
        case OPJ_CLRSPC_CMYK where count >= 4: (model, colourCount) = (.cmyk, 4)
        case OPJ_CLRSPC_SYCC where count >= 3: (model, colourCount) = (.ycc, 3)
        case OPJ_CLRSPC_GRAY: (model, colourCount) = (.gray, 1)
        default: (model, colourCount) = count >= 3 ? (.rgb, 3) : (.gray, 1)
        }
        // Alpha: the component the file marks so, else the one after the colour.
        alpha = components.firstIndex { $0.alpha != 0 } ?? (count > colourCount ? colourCount : nil)
    }

    /// Component `c`'s sample under pixel (x, y) of the first component's grid, as 0–255.
    @inline(__always)
    private func value(_ c: Int, _ x: Int, _ y: Int) -> Int {
        let (w, h) = sizes[c]
        let sx = w == width ? x : min(w - 1, x * w / width), sy = h == height ? y : min(h - 1, y * h / height)
        let v = min(max(0, Int(samples[c][sy * w + sx]) + offsets[c]), maxima[c])
        return maxima[c] == 255 ? v : (v * 255 + maxima[c] / 2) / maxima[c]
    }

    /// A CMYK row's four inks a pixel (0 = none), for a colour transform.
    func inks(row y: Int, into inks: UnsafeMutablePointer<UInt8>) {
        for x in 0..<width {
            for c in 0..<4 { inks[x * 4 + c] = UInt8(clamping: value(c, x, y)) }
        }
    }

    func convert(row y: Int, into rgb: UnsafeMutablePointer<UInt8>) {
        for x in 0..<width {
            var (r, g, b): (Int, Int, Int)
            switch model {
            case .gray:
                let v = value(0, x, y)
                (r, g, b) = (v, v, v)
            case .rgb: (r, g, b) = (value(0, x, y), value(1, x, y), value(2, x, y))
            case .ycc:
                // sYCC is full-range BT.601.
                let luma = Double(value(0, x, y)), cb = Double(value(1, x, y) - 128), cr = Double(value(2, x, y) - 128)
                r = Int((luma + 1.402 * cr).rounded())
                g = Int((luma - 0.344136 * cb - 0.714136 * cr).rounded())
                b = Int((luma + 1.772 * cb).rounded())
            case .cmyk:
                let k = 255 - value(3, x, y)
                r = (255 - value(0, x, y)) * k / 255
                g = (255 - value(1, x, y)) * k / 255
                b = (255 - value(2, x, y)) * k / 255
            }
            if let alpha {
                let a = value(alpha, x, y), white = 255 * (255 - a)
                (r, g, b) = ((r * a + white + 127) / 255, (g * a + white + 127) / 255, (b * a + white + 127) / 255)
            }
            rgb[x * 3] = UInt8(clamping: r)
            rgb[x * 3 + 1] = UInt8(clamping: g)
            rgb[x * 3 + 2] = UInt8(clamping: b)
        }
    }
}
