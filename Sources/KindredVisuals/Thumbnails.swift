import Foundation
import KindredCore
import KindredImaging

enum Thumbnails {
    /// Each file decoded and shrunk to fit a `side` × `side` box, on `threads` threads, dealt
    /// out one file at a time (one huge PNG holds up one thread only). JPEG and WebP decode at
    /// a reduced scale and PNG streams through the area resampler, so size costs time, not memory.
    static func decode(_ paths: [String], side: Int, threads: Int) -> [Result<RGBImage, ImageError>] {
        let options = {
            var o = DecodeOptions(); o.targetShortSide = side; return o
        }()
        let results = UnsafeMutableBufferPointer<Result<RGBImage, ImageError>>.allocate(capacity: paths.count)
        defer { results.deallocate() }
        let shared = UnsafeSendableBox(results)
        performDealt(items: paths.count, workers: threads) { i in
            let result = Result { () throws(ImageError) -> RGBImage in
                try ImageDecoder.decode(file: URL(fileURLWithPath: paths[i]), options: options).image.fitted(
                    within: side)
            }
            (shared.value.baseAddress! + i).initialize(to: result)
        }
        defer { _ = results.baseAddress.map { $0.deinitialize(count: paths.count) } }
        return Array(results)
    }
}
