import ArgumentParser
import Dispatch
import Foundation
import KindredCore
import KindredFeatures
import KindredImaging
import Synchronization

extension Space: ExpressibleByArgument {}
extension CNNPrecision: ExpressibleByArgument {}
extension Framing.Fit: ExpressibleByArgument {}

/// Files → decoded, resized, cropped CNN inputs → features, in chunks: each chunk's images are
/// decoded on all threads while the network works on the chunk before. A file that fails is
/// reported and skipped; the rest carry on.
struct ImagePipeline {
    let network: EfficientNetLite0
    let threads: Int
    var options = DecodeOptions()
    var framing = Framing.reference
    /// Describe each picture mirrored left to right (the dev sets' test of flip-averaged vectors).
    var mirror = false

    struct Result {
        var paths: [String] = []
        var features: [Float] = []
        var logits: [Float] = []
        var failures: [(path: String, reason: String)] = []
        /// Where the time went (`run` only), in seconds.
        var stages = Stages()
    }

    /// Where a run's time went. The decode workers' stages add up the threads' time; the
    /// network's stages are the consumer's wall time, so `waitingForDecode` near zero means
    /// decoding kept up with the network.
    struct Stages: Sendable {
        /// Read, decode and (streaming) resample, summed over the decode workers.
        var readDecodeThreadSeconds = 0.0
        /// Framing for the network (border trim, fit), summed over the decode workers.
        var frameThreadSeconds = 0.0
        /// The network, with its input tensor's resize and crop.
        var cnnSeconds = 0.0
        /// The network's thread waiting for decoded images.
        var waitingForDecodeSeconds = 0.0

        var json: [String: Double] {
            let round = { (x: Double) in (x * 1000).rounded() / 1000 }
            return [
                "read_decode_thread_s": round(readDecodeThreadSeconds), "frame_thread_s": round(frameThreadSeconds),
                "cnn_s": round(cnnSeconds), "waiting_for_decode_s": round(waitingForDecodeSeconds),
            ]
        }
    }

    func run(_ files: [String], logits wantLogits: Bool = false, progress: ((Int, Int) -> Void)? = nil) -> Result {
        let (options, framing, mirror) = (self.options, self.framing, self.mirror)
        // Decoding the next files overlaps the network's work on those before; chunks arrive in
        // the order files finish decoding, and rows are put back in the files' order at the end.
        var rows: [(index: Int, features: ArraySlice<Float>, logits: ArraySlice<Float>)] = []
        var failures: [(index: Int, reason: String)] = []
        var done = 0
        let workerTimes = Mutex(Stages())
        var stages = Stages()
        var idleSince = ContinuousClock.now
        ChunkPipeline.run(
            files, chunkSize: max(1, threads * network.batchSize), threads: threads,
            prepare: { path in
                let begun = ContinuousClock.now
                let decoded = Swift.Result<RGBImage, ImageError> { () throws(ImageError) in
                    try ImageDecoder.decode(file: URL(fileURLWithPath: path), options: options).image
                }
                let framingBegun = ContinuousClock.now
                let framed = decoded.map { image in
                    let prepared = framing.prepare(image)
                    return mirror ? prepared.mirrored() : prepared
                }
                let (decoding, framingTime) = (framingBegun - begun, ContinuousClock.now - framingBegun)
                workerTimes.withLock {
                    $0.readDecodeThreadSeconds += decoding.seconds
                    $0.frameThreadSeconds += framingTime.seconds
                }
                return framed
            }
        ) { (outcomes, indices) throws(Never) in
            let begun = ContinuousClock.now
            stages.waitingForDecodeSeconds += (begun - idleSince).seconds
            defer {
                idleSince = ContinuousClock.now
                stages.cnnSeconds += (idleSince - begun).seconds
            }
            var images: [RGBImage] = [], decoded: [Int] = []
            for (index, outcome) in zip(indices, outcomes) {
                switch outcome {
                case .success(let image):
                    images.append(image)
                    decoded.append(index)
                case .failure(let error):
                    failures.append((index, error.reason))
                }
            }
            let (features, logits) = network.run(images: images, framing: framing, logits: wantLogits)
            let (f, l) = (network.outputDimension, wantLogits ? EfficientNetLite0.classCount : 0)
            for (n, index) in decoded.enumerated() {
                rows.append((index, features[(n * f)..<((n + 1) * f)], logits[(n * l)..<((n + 1) * l)]))
            }
            done += indices.count
            progress?(done, files.count)
        }
        var result = Result()
        let decodeTimes = workerTimes.withLock { $0 }
        stages.readDecodeThreadSeconds = decodeTimes.readDecodeThreadSeconds
        stages.frameThreadSeconds = decodeTimes.frameThreadSeconds
        result.stages = stages
        for row in rows.sorted(by: { $0.index < $1.index }) {
            result.paths.append(files[row.index])
            result.features += row.features
            result.logits += row.logits
        }
        result.failures = failures.sorted { $0.index < $1.index }.map { (files[$0.index], $0.reason) }
        return result
    }

    /// Model-free descriptors: files decoded and described on `threads` threads, each taking the
    /// next file when it is done with one.
    static func describe(
        _ files: [String], space: Space, framing: Framing = .reference, mirror: Bool = false,
        options: DecodeOptions = DecodeOptions(), threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> Result {
        let rows = Mutex<[Int: [Float]]>([:]), failures = Mutex<[Int: String]>([:]), next = Mutex(0)
        @Sendable func describeFile(_ file: String, at i: Int) {
            do throws(ImageError) {
                var image = framing.prepare(
                    try ImageDecoder.decode(file: URL(fileURLWithPath: file), options: options).image)
                if mirror { image = image.mirrored() }
                let row =
                    space == .style
                    ? StyleDescriptor.compute(image)
                    : PerceptualHash.bytes(PerceptualHash.compute(image)).map(Float.init)
                rows.withLock { $0[i] = row }
            } catch {
                failures.withLock { $0[i] = error.reason }
            }
        }
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, files.count))) { _ in
            while true {
                let i = next.withLock { i in
                    defer { i += 1 }
                    return i
                }
                guard i < files.count else { return }
                describeFile(files[i], at: i)
            }
        }
        var result = Result()
        let (described, failed) = (rows.withLock { $0 }, failures.withLock { $0 })
        for i in files.indices {
            if let row = described[i] {
                result.paths.append(files[i])
                result.features += row
            } else if let reason = failed[i] {
                result.failures.append((files[i], reason))
            }
        }
        return result
    }

    /// Regular files under the given files and directories, recursively, hidden ones skipped,
    /// in path order so a run is reproducible.
    static func collect(_ arguments: [String]) -> (files: [String], missing: [String]) {
        var files: [String] = [], missing: [String] = []
        let manager = FileManager.default
        for argument in arguments {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                missing.append(argument)
                continue
            }
            guard isDirectory.boolValue else {
                files.append(argument)
                continue
            }
            let root = URL(fileURLWithPath: argument)
            guard
                let walker = manager.enumerator(
                    at: root, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
            else { continue }
            var found: [String] = []
            for case let url as URL in walker
            where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                found.append(url.path)
            }
            files += found.sorted()
        }
        return (files, missing)
    }
}
