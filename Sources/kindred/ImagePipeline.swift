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
        /// Where the time went (`run` only): read, decode, resample and frame summed over the
        /// decode workers; the network and its wait for decoded files on the consuming thread.
        var stages = StageClock()
    }

    /// The stages `run` goes through, for its report.
    static let stagesRun: [PipelineStage] = [.read, .decode, .resample, .frame, .cnn, .waiting]

    func run(_ files: [String], logits wantLogits: Bool = false, progress: ((Int, Int) -> Void)? = nil) -> Result {
        let (options, framing, mirror) = (self.options, self.framing, self.mirror)
        // Decoding the next files overlaps the network's work on those before; chunks arrive in
        // the order files finish decoding, and rows are put back in the files' order at the end.
        var rows: [(index: Int, features: ArraySlice<Float>, logits: ArraySlice<Float>)] = []
        var failures: [(index: Int, reason: String)] = []
        var done = 0
        let clock = StageClock()
        ChunkPipeline.run(
            files, chunkSize: max(1, threads * network.batchSize), threads: threads, clock: clock,
            prepare: { path in
                clock.countFiles()
                let decoded = Swift.Result<RGBImage, ImageError> { () throws(ImageError) in
                    let file = try clock.measure(.read) { () throws(ImageError) in
                        try ImageFile(path: path, options: options)
                    }
                    return try file.decode(options: options, clock: clock).image
                }
                return clock.measure(.frame) {
                    decoded.map { image in
                        let prepared = framing.prepare(image)
                        return mirror ? prepared.mirrored() : prepared
                    }
                }
            }
        ) { (outcomes, indices) throws(Never) in
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
            let (features, logits) = clock.measure(.cnn) {
                network.run(images: images, framing: framing, logits: wantLogits)
            }
            let (f, l) = (network.outputDimension, wantLogits ? EfficientNetLite0.classCount : 0)
            for (n, index) in decoded.enumerated() {
                rows.append((index, features[(n * f)..<((n + 1) * f)], logits[(n * l)..<((n + 1) * l)]))
            }
            done += indices.count
            progress?(done, files.count)
        }
        var result = Result()
        result.stages = clock
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

    /// Runs `describe` on one path of each file among `files` (a symbolic or hard link names the
    /// same file as its target: `FileIdentity`), then gives every path its file's row or failure,
    /// in `files`' order. Returns that and how many files were described.
    static func onceAFile(_ files: [String], _ describe: ([String]) -> Result) -> (result: Result, described: Int) {
        let (first, group) = FileIdentity.group(files)
        guard first.count < files.count else { return (describe(files), files.count) }
        let described = describe(first.map { files[$0] })
        let count = described.paths.count
        let f = count > 0 ? described.features.count / count : 0
        let l = count > 0 ? described.logits.count / count : 0
        let row = Dictionary(described.paths.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let failure = Dictionary(described.failures.map { ($0.path, $0.reason) }, uniquingKeysWith: { a, _ in a })
        var result = Result()
        result.stages = described.stages
        result.features.reserveCapacity(files.count * f)
        for (i, path) in files.enumerated() {
            let file = files[first[group[i]]]
            if let r = row[file] {
                result.paths.append(path)
                result.features += described.features[(r * f)..<((r + 1) * f)]
                result.logits += described.logits[(r * l)..<((r + 1) * l)]
            } else if let reason = failure[file] {
                result.failures.append((path, reason))
            }
        }
        return (result, first.count)
    }

    /// Writes each file that was not described as one line on stderr, `path<TAB>reason`, both
    /// shown as `DisplayText` shows text from outside: a newline in a name cannot start a line of
    /// its own in the list.
    static func report(failures: [(path: String, reason: String)]) {
        for failure in failures {
            FileHandle.standardError.write(
                Data("\(DisplayText.visible(failure.path))\t\(DisplayText.visible(failure.reason))\n".utf8))
        }
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
