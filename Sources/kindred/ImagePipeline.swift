import ArgumentParser
import Dispatch
import Foundation
import KindredFeatures
import KindredImaging
import Synchronization

/// Files → decoded, resized, cropped CNN inputs → features, in chunks: each chunk's images are
/// decoded on all threads, then go through the network as one batch. A file that fails is
/// reported and skipped; the rest carry on.
/// The vector spaces `kindred embed` computes.
enum EmbeddingSpace: String, CaseIterable, ExpressibleByArgument {
    case cnn, style, phash

    var dimension: Int {
        switch self {
        case .cnn: EfficientNetLite0.featureDimension
        case .style: StyleDescriptor.dimension
        case .phash: 8
        }
    }
}

struct ImagePipeline {
    let network: EfficientNetLite0
    let threads: Int
    var options = DecodeOptions()

    struct Result {
        var paths: [String] = []
        var features: [Float] = []
        var logits: [Float] = []
        var failures: [(path: String, reason: String)] = []
    }

    func run(_ files: [String], logits wantLogits: Bool = false, progress: ((Int, Int) -> Void)? = nil) -> Result {
        var result = Result()
        let chunk = max(1, threads * network.batchSize)
        for start in stride(from: 0, to: files.count, by: chunk) {
            let slice = Array(files[start..<min(files.count, start + chunk)])
            let decoded = Mutex<[Int: Swift.Result<RGBImage, ImageError>]>([:])
            let options = self.options
            DispatchQueue.concurrentPerform(iterations: slice.count) { i in
                let outcome: Swift.Result<RGBImage, ImageError>
                do throws(ImageError) {
                    outcome = .success(try ImageDecoder.decode(file: URL(fileURLWithPath: slice[i]), options: options).image)
                } catch {
                    outcome = .failure(error)
                }
                decoded.withLock { $0[i] = outcome }
            }
            let outcomes = decoded.withLock { $0 }
            var images: [RGBImage] = []
            for i in slice.indices {
                switch outcomes[i]! {
                case .success(let image):
                    images.append(image)
                    result.paths.append(slice[i])
                case .failure(let error):
                    result.failures.append((slice[i], error.reason))
                }
            }
            let (features, logits) = network.run(images: images, logits: wantLogits)
            result.features += features
            result.logits += logits
            progress?(min(files.count, start + chunk), files.count)
        }
        return result
    }

    /// Model-free descriptors: each file decoded and described on its own thread.
    static func describe(_ files: [String], space: EmbeddingSpace, options: DecodeOptions = DecodeOptions()) -> Result {
        let rows = Mutex<[Int: [Float]]>([:]), failures = Mutex<[Int: String]>([:])
        DispatchQueue.concurrentPerform(iterations: files.count) { i in
            do throws(ImageError) {
                let image = try ImageDecoder.decode(file: URL(fileURLWithPath: files[i]), options: options).image
                let row = space == .style ? StyleDescriptor.compute(image) : PerceptualHash.bytes(PerceptualHash.compute(image)).map(Float.init)
                rows.withLock { $0[i] = row }
            } catch {
                failures.withLock { $0[i] = error.reason }
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
            guard let walker = manager.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]) else { continue }
            var found: [String] = []
            for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                found.append(url.path)
            }
            files += found.sorted()
        }
        return (files, missing)
    }
}
