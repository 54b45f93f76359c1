import CISAL
import CSPNG

/// A PNG served to libspng with its image data inflated by ISA-L as libspng reads it, and handed
/// over in stored (uncompressed) deflate blocks: libspng still parses, unfilters and converts
/// every pixel, and zlib's share of the work shrinks to copying.
///
/// Why this exists: zlib 1.2.13 (Debian 12's) copies each deflate match a byte at a time, and PNG
/// image data is mostly matches (flat areas, repeated rows). Inflating was ~70 % of decoding
/// openclipart, and ISA-L inflates the same streams ~2.6–3.1× faster, in a stream, so memory
/// stays a block whatever the image's size (Benchmarks/RESULTS.md, "PNG image data through
/// ISA-L"). libspng reads only through zlib, so the bytes between the two are rewritten here. It
/// is the one piece of PNG container handling Kindred does itself: walking the chunks and
/// checking their CRCs.
///
/// It is an accelerator and nothing else. A file it does not expect (interlaced, a bad CRC, a
/// header outside the PNG specification) is not taken (`init` returns nil), and one whose image
/// data turns out not to be exactly one zlib stream of the rows the header implies ends the
/// stream with an I/O error: the decoder then reads the file through libspng alone (after any
/// failure on this route), with its own checks and errors. So a file decodes to the same pixels, or fails
/// with the same error, by either route (`DecoderTests.inflatingRouteMatchesLibspngAlone`).
final class InflatingPNGStream {
    /// The image data proved not to be what the header promised: reads end in an I/O error.
    private var failed = false

    private let file: UnsafeRawBufferPointer
    private let layout: Layout
    private let inflater: UnsafeMutablePointer<inflate_state>
    /// One block's IDAT chunk: header bytes ending at `payloadStart`, the payload, the trailer.
    private let block: UnsafeMutableRawBufferPointer
    private var produced = 0, nextChunk = 0
    private var stage = Stage.prefix
    private var current = UnsafeRawBufferPointer(start: nil, count: 0), cursor = 0

    private enum Stage { case prefix, blocks, suffix, end }
    private static let storedBlock = 65_535, payloadStart = 16

    /// Nil when the file should go through libspng alone (see the type's comment). `admits` is
    /// the decoder's admission of a width and height, asked before anything is allocated.
    init?(_ file: UnsafeRawBufferPointer, admits: (Int, Int) -> Bool) {
        guard let layout = Layout(file), admits(layout.width, layout.height) else { return nil }
        (self.file, self.layout) = (file, layout)
        inflater = .allocate(capacity: 1)
        isal_inflate_init(inflater)
        inflater.pointee.crc_flag = UInt32(ISAL_ZLIB)
        block = .allocate(byteCount: Self.payloadStart + Self.storedBlock + 8, alignment: 64)
        current = UnsafeRawBufferPointer(rebasing: file[..<layout.firstImageChunk])
    }

    deinit {
        inflater.deallocate()
        block.deallocate()
    }

    /// Points `ctx` at this stream, CRC checks off: every original chunk's CRC has been checked
    /// here, and the IDAT chunks are Kindred's own. The stream must outlive `ctx`'s reads.
    func attach(to ctx: OpaquePointer) -> Int32 {
        let status = spng_set_crc_action(ctx, Int32(SPNG_CRC_USE.rawValue), Int32(SPNG_CRC_USE.rawValue))
        guard status == 0 else { return status }
        return spng_set_png_stream(
            ctx,
            { _, user, destination, length in
                guard let user, let destination else { return Int32(SPNG_IO_ERROR.rawValue) }
                let stream = Unmanaged<InflatingPNGStream>.fromOpaque(user).takeUnretainedValue()
                return stream.read(into: destination, count: length)
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// The next `count` bytes: 0, or libspng's end-of-stream or I/O error.
    private func read(into destination: UnsafeMutableRawPointer, count: Int) -> Int32 {
        var written = 0
        while written < count {
            if cursor == current.count {
                guard advance() else { return Int32((failed ? SPNG_IO_ERROR : SPNG_IO_EOF).rawValue) }
                continue
            }
            let n = min(count - written, current.count - cursor)
            (destination + written).copyMemory(from: current.baseAddress! + cursor, byteCount: n)
            (written, cursor) = (written + n, cursor + n)
        }
        return 0
    }

    /// Moves `current` to the stream's next piece; false at its end or on failure.
    private func advance() -> Bool {
        cursor = 0
        switch stage {
        case .prefix, .blocks:
            if produced < layout.inflatedBytes {
                stage = .blocks
                guard let next = nextBlock() else {
                    (failed, stage) = (true, .end)
                    return false
                }
                current = next
                return true
            }
            stage = .suffix
            current = UnsafeRawBufferPointer(rebasing: file[layout.afterImageData...])
            return true
        case .suffix, .end:
            stage = .end
            return false
        }
    }

    /// The next stored block of inflated rows as its own IDAT chunk: length, type, the zlib header
    /// (first block), the block's header, its payload, the Adler-32 (last block), a CRC.
    private func nextBlock() -> UnsafeRawBufferPointer? {
        let length = min(Self.storedBlock, layout.inflatedBytes - produced)
        let (first, last) = (produced == 0, produced + length == layout.inflatedBytes)
        let payload = block.baseAddress! + Self.payloadStart
        guard inflate(into: payload, count: length), !last || finish() else { return nil }
        produced += length

        var header: [UInt8] = []
        header.reserveCapacity(Self.payloadStart)
        func put32(_ value: Int, into bytes: inout [UInt8]) {
            for shift in [24, 16, 8, 0] { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
        }
        put32((first ? 2 : 0) + 5 + length + (last ? 4 : 0), into: &header)
        header += Array("IDAT".utf8)
        if first { header += [0x78, 0x01] }  // deflate, 32 KiB window; 0x7801 is a multiple of 31
        header.append(last ? 1 : 0)  // BFINAL on the last block; BTYPE 00, stored
        header += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
        let start = Self.payloadStart - header.count
        UnsafeMutableRawBufferPointer(rebasing: block[start..<Self.payloadStart]).copyBytes(from: header)

        var trailer: [UInt8] = []
        if last { put32(Int(inflater.pointee.crc), into: &trailer) }  // the stream's Adler-32, checked
        put32(0, into: &trailer)  // the chunk's CRC, which libspng is told not to check
        let end = Self.payloadStart + length
        UnsafeMutableRawBufferPointer(rebasing: block[end..<(end + trailer.count)]).copyBytes(from: trailer)
        return UnsafeRawBufferPointer(rebasing: block[start..<(end + trailer.count)])
    }

    /// Exactly `count` inflated bytes into `output`; false if the stream ends, fails or stalls.
    private func inflate(into output: UnsafeMutableRawPointer, count: Int) -> Bool {
        inflater.pointee.next_out = output.assumingMemoryBound(to: UInt8.self)
        inflater.pointee.avail_out = UInt32(count)
        while inflater.pointee.avail_out > 0 {
            guard inflater.pointee.block_state != ISAL_BLOCK_FINISH, step() else { return false }
        }
        return true
    }

    /// After the last row: the zlib stream ends here, its Adler-32 matches (ISA-L checks it), and
    /// no image data is left over.
    private func finish() -> Bool {
        // A byte of room, where the trailer will go: any byte written there is one too many.
        let spare = (block.baseAddress! + Self.payloadStart + Self.storedBlock).assumingMemoryBound(to: UInt8.self)
        while inflater.pointee.block_state != ISAL_BLOCK_FINISH {
            inflater.pointee.next_out = spare
            inflater.pointee.avail_out = 1
            guard step(), inflater.pointee.avail_out == 1 else { return false }
        }
        return inflater.pointee.avail_in == 0 && nextChunk == layout.imageChunks.count
    }

    /// One call of ISA-L's inflate, fed the next IDAT chunk's data when it has none; false on an
    /// error or when the call made no progress (the image data is used up).
    private func step() -> Bool {
        while inflater.pointee.avail_in == 0, nextChunk < layout.imageChunks.count {
            let chunk = layout.imageChunks[nextChunk]
            nextChunk += 1
            inflater.pointee.next_in = UnsafeMutablePointer(
                mutating: file.baseAddress!.assumingMemoryBound(to: UInt8.self) + chunk.lowerBound)
            inflater.pointee.avail_in = UInt32(chunk.count)
        }
        // With no input left it may still have output held back, or the stream's end to reach.
        let (input, output, state) = (
            inflater.pointee.avail_in, inflater.pointee.avail_out, inflater.pointee.block_state
        )
        guard isal_inflate(inflater) == ISAL_DECOMP_OK else { return false }
        return inflater.pointee.avail_in != input || inflater.pointee.avail_out != output
            || inflater.pointee.block_state != state
    }

    /// Where a PNG's chunks are, once every one has been walked and its CRC checked.
    private struct Layout {
        var width = 0, height = 0, inflatedBytes = 0
        var firstImageChunk = 0, afterImageData = 0
        /// The IDAT chunks' data, in order.
        var imageChunks: [Range<Int>] = []

        private static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
        private static let ihdr: UInt32 = 0x4948_4452, idat: UInt32 = 0x4944_4154, iend: UInt32 = 0x4945_4E44

        init?(_ bytes: UnsafeRawBufferPointer) {
            guard bytes.count >= 8, bytes[..<8].elementsEqual(Self.signature) else { return nil }
            func be32(_ at: Int) -> Int {
                Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            }
            var at = 8, ended = false
            while !ended {
                guard bytes.count - at >= 12 else { return nil }
                let length = be32(at)
                guard length <= Int(Int32.max), bytes.count - at - 12 >= length else { return nil }
                guard
                    crc32_gzip_refl(
                        0, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + at + 4, UInt64(length + 4))
                        == UInt32(be32(at + 8 + length))
                else { return nil }
                let type = UInt32(be32(at + 4))
                let data = (at + 8)..<(at + 8 + length)
                if at == 8 {
                    guard type == Self.ihdr, length == 13, readHeader(bytes, at: data.lowerBound, be32) else {
                        return nil
                    }
                } else if type == Self.idat {
                    // IDAT chunks are consecutive (PNG 11.2.4): another after a gap is not a PNG.
                    if imageChunks.isEmpty {
                        firstImageChunk = at
                    } else if afterImageData != at {
                        return nil
                    }
                    imageChunks.append(data)
                    afterImageData = data.upperBound + 4
                } else if type == Self.iend {
                    ended = true
                }
                at = data.upperBound + 4
            }
            guard !imageChunks.isEmpty else { return nil }
        }

        /// Width, height and the inflated size from IHDR, for the combinations the PNG
        /// specification allows, non-interlaced.
        private mutating func readHeader(
            _ bytes: UnsafeRawBufferPointer, at start: Int, _ be32: (Int) -> Int
        ) -> Bool {
            (width, height) = (be32(start), be32(start + 4))
            let (depth, colour) = (Int(bytes[start + 8]), bytes[start + 9])
            let (compression, filter, interlace) = (bytes[start + 10], bytes[start + 11], bytes[start + 12])
            guard (1...Int(Int32.max)).contains(width), (1...Int(Int32.max)).contains(height),
                compression == 0, filter == 0, interlace == 0
            else { return false }
            let channels: Int
            switch (colour, depth) {
            case (0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (3, 1), (3, 2), (3, 4), (3, 8): channels = 1
            case (2, 8), (2, 16): channels = 3
            case (4, 8), (4, 16): channels = 2
            case (6, 8), (6, 16): channels = 4
            default: return false
            }
            // Each row is a filter byte and its pixels packed to whole bytes. The width is below
            // 2^31 and channels × depth at most 64, so the row cannot overflow; the image can.
            let rowBytes = (width * channels * depth + 7) / 8 + 1
            let (total, overflow) = rowBytes.multipliedReportingOverflow(by: height)
            guard !overflow else { return false }
            inflatedBytes = total
            return true
        }
    }
}
