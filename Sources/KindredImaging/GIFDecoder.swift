import CGIF

/// GIF through giflib: the first frame, drawn on the logical screen, with transparent pixels and
/// the screen outside the frame white. Only the first image's records are read, so a long
/// animation costs no more than its first frame.
enum GIFDecoder {
    static func decode(
        _ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions
    ) throws(ImageError) -> DecodedImage {
        let source = UnsafeMutablePointer<MemorySource>.allocate(capacity: 1)
        source.initialize(to: MemorySource(base: bytes.baseAddress, count: bytes.count))
        defer { source.deallocate() }
        var code: Int32 = 0
        guard let gif = DGifOpen(source, MemorySource.read, &code) else {
            throw error(code, "header", path)
        }
        defer { DGifCloseFile(gif, &code) }
        let screenWidth = Int(gif.pointee.SWidth), screenHeight = Int(gif.pointee.SHeight)
        try options.admit(width: screenWidth, height: screenHeight, path: path)

        var transparent = -1
        while true {
            var record = UNDEFINED_RECORD_TYPE
            guard DGifGetRecordType(gif, &record) == GIF_OK else { throw error(gif.pointee.Error, "records", path) }
            switch record {
            case EXTENSION_RECORD_TYPE:
                var function: Int32 = 0
                var block: UnsafeMutablePointer<GifByteType>?
                guard DGifGetExtension(gif, &function, &block) == GIF_OK else {
                    throw error(gif.pointee.Error, "extension", path)
                }
                if function == GRAPHICS_EXT_FUNC_CODE, let block, block[0] >= 4 {
                    var control = GraphicsControlBlock()
                    if DGifExtensionToGCB(Int(block[0]), block + 1, &control) == GIF_OK {
                        transparent = Int(control.TransparentColor)
                    }
                }
                while block != nil {
                    guard DGifGetExtensionNext(gif, &block) == GIF_OK else {
                        throw error(gif.pointee.Error, "extension", path)
                    }
                }
            case IMAGE_DESC_RECORD_TYPE:
                guard DGifGetImageDesc(gif) == GIF_OK else { throw error(gif.pointee.Error, "image descriptor", path) }
                return try firstFrame(gif, transparent: transparent, path: path, options: options)
            case TERMINATE_RECORD_TYPE:
                throw ImageError(path: path, kind: .corrupt, reason: "corrupt GIF: no image before the trailer")
            default:
                throw ImageError(path: path, kind: .corrupt, reason: "corrupt GIF: unknown record type")
            }
        }
    }

    private static func firstFrame(
        _ gif: UnsafeMutablePointer<GifFileType>, transparent: Int, path: String, options: DecodeOptions
    ) throws(ImageError) -> DecodedImage {
        let screenWidth = Int(gif.pointee.SWidth), screenHeight = Int(gif.pointee.SHeight)
        let frame = gif.pointee.Image
        let (left, top, width, height) = (Int(frame.Left), Int(frame.Top), Int(frame.Width), Int(frame.Height))
        // The frame's indices are held whole: interlaced rows arrive out of order.
        try options.admit(width: width, height: height, heldWhole: true, path: path)
        guard let map = frame.ColorMap ?? gif.pointee.SColorMap, map.pointee.ColorCount > 0 else {
            throw ImageError(path: path, kind: .corrupt, reason: "corrupt GIF: no colour table")
        }
        var palette = [UInt8](repeating: 255, count: 256 * 3)
        for i in 0..<min(256, Int(map.pointee.ColorCount)) where i != transparent {
            let colour = map.pointee.Colors[i]
            (palette[i * 3], palette[i * 3 + 1], palette[i * 3 + 2]) = (colour.Red, colour.Green, colour.Blue)
        }
        var indices = [UInt8](repeating: 0, count: width * height)
        // Interlaced GIFs store rows 0, 8, 16, … then 4, 12, … then 2, 6, … then the odd rows.
        let order: [Int] =
            frame.Interlace
            ? [(0, 8), (4, 8), (2, 4), (1, 2)].flatMap { start, step in Array(stride(from: start, to: height, by: step))
            }
            : Array(0..<height)
        for row in order {
            let ok = indices.withUnsafeMutableBufferPointer {
                DGifGetLine(gif, $0.baseAddress! + row * width, Int32(width))
            }
            guard ok == GIF_OK else { throw error(gif.pointee.Error, "image data", path) }
        }
        let (outputWidth, outputHeight) = options.outputSize(width: screenWidth, height: screenHeight)
        var resampler = AreaResampler(
            inputWidth: screenWidth, inputHeight: screenHeight, outputWidth: outputWidth, outputHeight: outputHeight)
        var rgb = [UInt8](repeating: 255, count: screenWidth * 3)
        let columns = max(0, min(width, screenWidth - left))
        for y in 0..<screenHeight {
            for i in rgb.indices { rgb[i] = 255 }
            let frameRow = y - top
            if frameRow >= 0 && frameRow < height && left < screenWidth {
                for x in 0..<columns {
                    let p = Int(indices[frameRow * width + x]) * 3, q = (left + x) * 3
                    (rgb[q], rgb[q + 1], rgb[q + 2]) = (palette[p], palette[p + 1], palette[p + 2])
                }
            }
            rgb.withUnsafeBufferPointer { resampler.add(row: $0.baseAddress!) }
        }
        return DecodedImage(
            image: resampler.output, format: .gif, originalWidth: screenWidth, originalHeight: screenHeight,
            resampleTime: resampler.busy)
    }

    private static func error(_ code: Int32, _ stage: String, _ path: String) -> ImageError {
        let message = GifErrorString(code).map { String(cString: $0) } ?? "error \(code)"
        let truncated = code == D_GIF_ERR_READ_FAILED || code == D_GIF_ERR_EOF_TOO_SOON
        return ImageError(
            path: path, kind: .corrupt,
            reason: truncated ? "truncated GIF data (\(stage))" : "corrupt GIF: \(stage): \(message)")
    }
}

/// Bytes in memory as giflib's input: it reads through this, never a file.
private struct MemorySource {
    let base: UnsafeRawPointer?
    let count: Int
    var offset = 0

    static let read: InputFunc = { gif, buffer, size in
        let source = gif!.pointee.UserData!.assumingMemoryBound(to: MemorySource.self)
        let n = max(0, min(Int(size), source.pointee.count - source.pointee.offset))
        if n > 0, let base = source.pointee.base {
            buffer!.update(from: (base + source.pointee.offset).assumingMemoryBound(to: UInt8.self), count: n)
        }
        source.pointee.offset += n
        return Int32(n)
    }
}
