import Dispatch
import Foundation
import KindredCore
import KindredImaging
import Logging

/// Thumbnails packed into square JPEG sprite sheets: item `i` is cell `i mod perAtlas` of atlas
/// `i / perAtlas`, cells row-major, each image fitted and centred in a `cell` × `cell` square.
/// One atlas is decoded, packed and encoded at a time, so memory stays at one atlas whatever the
/// collection's size.
public struct ThumbnailAtlas: Sendable {
    public let cell: Int
    public let perRow: Int
    /// JPEG bytes, one per atlas.
    public let atlases: [[UInt8]]
    /// Files that could not be read or decoded; their cells are left blank.
    public let failures: [(path: String, reason: String)]
    /// How many cells came from stored thumbnails rather than decoding their file.
    public let storedCount: Int

    public var perAtlas: Int { perRow * perRow }

    /// `stored(i)` gives item `i`'s thumbnail when one of exactly `cell` pixels was kept at
    /// ingestion; the others are decoded from their files.
    public static func build(
        paths: [String], cell: Int, stored: (Int) -> RGBImage? = { _ in nil }, atlasSide: Int = 2048, quality: Int = 82,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, logger: Logger
    ) throws(VisualsError) -> ThumbnailAtlas {
        guard (8...512).contains(cell) else {
            throw .invalidOption(name: "thumb-size", value: "\(cell)", requirement: "8 to 512 pixels")
        }
        let perRow = max(1, atlasSide / cell)
        let perAtlas = perRow * perRow
        var atlases: [[UInt8]] = []
        var failures: [(path: String, reason: String)] = []
        var storedCount = 0
        for first in stride(from: 0, to: paths.count, by: perAtlas) {
            let count = min(perAtlas, paths.count - first)
            let rows = (count + perRow - 1) / perRow
            var thumbs: [Result<RGBImage, ImageError>?] = (first..<(first + count)).map {
                stored($0).map { .success($0) }
            }
            let missing = thumbs.indices.filter { thumbs[$0] == nil }
            storedCount += count - missing.count
            for (k, decoded) in zip(
                missing, Thumbnails.decode(missing.map { paths[first + $0] }, side: cell, threads: threads))
            { thumbs[k] = decoded }
            var sheet = RGBImage(width: perRow * cell, height: rows * cell)
            sheet.fill(x: 0, y: 0, width: sheet.width, height: sheet.height, rgb: (14, 15, 18))
            for (k, thumb) in thumbs.map({ $0! }).enumerated() {
                let x = (k % perRow) * cell, y = (k / perRow) * cell
                switch thumb {
                case .success(let thumb):
                    sheet.paste(thumb, x: x + (cell - thumb.width) / 2, y: y + (cell - thumb.height) / 2)
                case .failure(let error):
                    failures.append((paths[first + k], error.reason))
                    logger.debug(
                        "no thumbnail", metadata: ["path": "\(paths[first + k])", "reason": "\(error.reason)"])
                }
            }
            do { atlases.append(try JPEGEncoder.encode(sheet, quality: quality)) } catch { throw .image(error) }
        }
        return ThumbnailAtlas(
            cell: cell, perRow: perRow, atlases: atlases, failures: failures, storedCount: storedCount)
    }
}
