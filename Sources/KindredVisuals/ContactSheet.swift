import Foundation
import KindredCore
import KindredImaging

/// `kindred sheet`: a grid of images with captions, as the clustering studies show a cluster
/// (its members nearest the centre) or a query's results. Rendered to JPEG by libjpeg-turbo.
public struct ContactSheet {
    public struct Entry: Sendable {
        public var path: String
        /// Under the image: the first line bold-ish (brighter), the second dimmer.
        public var caption: String
        public var detail: String
        public init(path: String, caption: String, detail: String) {
            self.path = path
            self.caption = caption
            self.detail = detail
        }
    }

    public struct Options: Sendable {
        public var cell = 240
        public var columns: Int?
        public var quality = 90
        public var fontPath = CaptionFont.defaultPath
        public var threads = ProcessInfo.processInfo.activeProcessorCount
        public init() {}
    }

    /// The finished sheet, and the entries whose image could not be read (drawn as blank cells
    /// with the reason in their caption).
    public let image: RGBImage
    public let failures: [(path: String, reason: String)]
    /// Where each entry went: its image cell and the caption strip under it, in pixels.
    public let frames: [Frame]

    public struct Frame: Sendable {
        public var x, y, side, captionHeight: Int
    }

    public static let background: (UInt8, UInt8, UInt8) = (24, 26, 31)
    static let cellBackground: (UInt8, UInt8, UInt8) = (14, 15, 18)

    public static func render(
        title: String, entries: [Entry], options: Options = Options()
    ) throws(VisualsError) -> ContactSheet {
        guard (32...1024).contains(options.cell) else {
            throw .invalidOption(name: "cell", value: "\(options.cell)", requirement: "32 to 1024 pixels")
        }
        let titleFont = try CaptionFont(path: options.fontPath, pixelSize: 20)
        let font = try CaptionFont(path: options.fontPath, pixelSize: max(10, min(16, options.cell / 16)))
        let columns = max(
            1, options.columns ?? min(entries.count, Int(Double(entries.count).squareRoot().rounded(.up)) + 1))
        let rows = max(1, (entries.count + columns - 1) / columns)
        let margin = 16, gap = 10, captionHeight = 2 * font.lineHeight + 6, header = titleFont.lineHeight + 14
        let width = 2 * margin + columns * options.cell + (columns - 1) * gap
        let height = margin + header + rows * (options.cell + captionHeight) + (rows - 1) * gap + margin
        var sheet = RGBImage(width: width, height: height)
        sheet.fill(x: 0, y: 0, width: width, height: height, rgb: background)
        titleFont.draw(
            titleFont.fitted(title, maxWidth: width - 2 * margin), into: &sheet, x: margin,
            y: margin + titleFont.ascent, colour: (235, 238, 243))

        let thumbs = Thumbnails.decode(entries.map(\.path), side: options.cell, threads: options.threads)
        var failures: [(path: String, reason: String)] = [], frames: [Frame] = []
        for (i, entry) in entries.enumerated() {
            let x = margin + (i % columns) * (options.cell + gap)
            let y = margin + header + (i / columns) * (options.cell + captionHeight + gap)
            frames.append(Frame(x: x, y: y, side: options.cell, captionHeight: captionHeight))
            sheet.fill(x: x, y: y, width: options.cell, height: options.cell, rgb: cellBackground)
            var detail = entry.detail
            switch thumbs[i] {
            case .success(let thumb):
                sheet.paste(thumb, x: x + (options.cell - thumb.width) / 2, y: y + (options.cell - thumb.height) / 2)
            case .failure(let error):
                failures.append((entry.path, error.reason))
                detail = error.reason
            }
            let baseline = y + options.cell + 4 + font.ascent
            font.draw(
                font.fitted(entry.caption, maxWidth: options.cell), into: &sheet, x: x, y: baseline,
                colour: (225, 228, 234))
            font.draw(
                font.fitted(detail, maxWidth: options.cell), into: &sheet, x: x, y: baseline + font.lineHeight,
                colour: (139, 147, 161))
        }
        return ContactSheet(image: sheet, failures: failures, frames: frames)
    }

    public func jpeg(quality: Int = 90) throws(VisualsError) -> [UInt8] {
        do { return try JPEGEncoder.encode(image, quality: quality) } catch { throw .image(error) }
    }
}
