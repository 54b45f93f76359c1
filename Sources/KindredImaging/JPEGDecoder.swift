import CTurboJPEG

/// JPEG through libjpeg-turbo's TurboJPEG API, decoding at the smallest DCT scale (1/8, 1/4, 3/8,
/// 1/2, …) whose shorter side still reaches the target, so a 6000×4000 artwork decodes at 750×500
/// rather than 24 MP. Grayscale, progressive and CMYK/YCCK files are handled (colour through
/// `ColourManagement`); warnings (such as
/// truncated data) are errors, since a half-decoded image would be indexed as something it is not.
enum JPEGDecoder {
    static func decode(
        _ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions
    ) throws(ImageError) -> DecodedImage {
        let targetShortSide = options.targetShortSide
        guard let handle = tjInitDecompress() else {
            throw ImageError(path: path, kind: .unreadable, reason: "cannot start the JPEG decoder")
        }
        defer { tjDestroy(handle) }
        func failure(_ what: String) -> ImageError {
            let message = String(cString: tjGetErrorStr2(handle))
            let truncated = message.contains("Premature end") || message.contains("ended prematurely")
            return ImageError(
                path: path, kind: .corrupt,
                reason: truncated ? "truncated JPEG data (\(message))" : "corrupt JPEG: \(what): \(message)")
        }
        let source = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, source, UInt(bytes.count), &width, &height, &subsampling, &colorspace) == 0
        else {
            throw failure("header")
        }
        // The unscaled size bounds the work (every coefficient is entropy-decoded whatever the scale).
        try options.admit(width: Int(width), height: Int(height), path: path)

        // The smallest scale whose shorter side still reaches the target.
        var count: Int32 = 0
        let factors = tjGetScalingFactors(&count)
        var best = tjscalingfactor(num: 1, denom: 1)
        var bestArea = Int.max
        for i in 0..<Int(max(0, count)) {
            let f = factors![i]
            let w = (Int(width) * Int(f.num) + Int(f.denom) - 1) / Int(f.denom)
            let h = (Int(height) * Int(f.num) + Int(f.denom) - 1) / Int(f.denom)
            if min(w, h) >= min(targetShortSide, Int(min(width, height))) && w * h < bestArea {
                best = f
                bestArea = w * h
            }
        }
        let w = (Int(width) * Int(best.num) + Int(best.denom) - 1) / Int(best.denom)
        let h = (Int(height) * Int(best.num) + Int(best.denom) - 1) / Int(best.denom)
        do { try options.admit(width: w, height: h, heldWhole: true, path: path) } catch {
            throw ImageError(
                path: path, kind: .tooLarge,
                reason:
                    "image \(width)×\(height) exceeds pixel limit \(options.pixelLimit / 1_000_000) MP even at 1/8 scale"
            )
        }
        let cmyk = colorspace == TJCS_CMYK.rawValue || colorspace == TJCS_YCCK.rawValue
        let channels = cmyk ? 4 : 3
        var decoded = [UInt8](repeating: 0, count: w * h * channels)
        // LIMITSCANS refuses a progressive file of more than 500 scans: each scan re-reads every
        // coefficient, so a small file of many empty scans costs minutes of CPU (CVE-2018-11813's kind).
        let flags = Int32(TJFLAG_STOPONWARNING | TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS)
        let status = decoded.withUnsafeMutableBufferPointer { out in
            tjDecompress2(
                handle, source, UInt(bytes.count), out.baseAddress, Int32(w), 0, Int32(h),
                cmyk ? TJPF_CMYK.rawValue : TJPF_RGB.rawValue, flags)
        }
        guard status == 0 else { throw failure("scan data") }

        let metadata = JPEGMetadata(bytes)
        var image: RGBImage
        var colourProfile: String?
        if cmyk {
            // Converted before shrinking: inks do not average the way light does. Adobe stores
            // CMYK inverted.
            var rgb = [UInt8](repeating: 0, count: w * h * 3)
            let transform =
                options.managesColour
                ? ColourManagement.transform(
                    profile: metadata.iccProfile, source: metadata.adobe ? .cmykInverted : .cmyk)
                : nil
            if let transform {
                decoded.withUnsafeBytes { input in
                    rgb.withUnsafeMutableBytes {
                        transform.apply(input.baseAddress!, to: $0.baseAddress!, pixels: w * h)
                    }
                }
                colourProfile = transform.profileName
            } else {
                // Unmanaged, or no profile at all (not even the default): R = (255 − C)(255 − K)/255.
                let flip = metadata.adobe ? 255 : 0  // stored inverted: 255 − stored is the ink
                for i in 0..<(w * h) {
                    let paperUnderK = 255 - (flip ^ Int(decoded[i * 4 + 3]))
                    for c in 0..<3 {
                        rgb[i * 3 + c] = UInt8((255 - (flip ^ Int(decoded[i * 4 + c]))) * paperUnderK / 255)
                    }
                }
            }
            image = RGBImage(width: w, height: h, pixels: rgb)
        } else {
            image = RGBImage(width: w, height: h, pixels: decoded)
        }
        let orientation = metadata.orientation
        image = image.oriented(orientation)
        let transposed = orientation >= 5
        return DecodedImage(
            image: image, format: .jpeg,
            originalWidth: Int(transposed ? height : width), originalHeight: Int(transposed ? width : height),
            colourProfile: colourProfile, embeddedProfile: cmyk ? nil : metadata.iccProfile)
    }
}
