import Dispatch
import KindredCore
import KindredImaging

extension EfficientNetLite0 {
    /// Runs decoded images through the network: each fitted to the input (`framing`, in parallel), then
    /// one batched run. Returns the raw features (`outputDimension` a row) and, if asked, the ImageNet logits
    /// (1000 a row), in image order.
    public func run(
        images: [RGBImage], framing: Framing = .reference, logits wantLogits: Bool = false
    ) -> (features: [Float], logits: [Float]) {
        guard !images.isEmpty else { return ([], []) }
        let size = Self.inputSize * Self.inputSize * 3
        var input = [Float](repeating: 0, count: images.count * size)
        input.withUnsafeMutableBufferPointer { buffer in
            let base = UInt(bitPattern: buffer.baseAddress)
            // Each image fills only its own slice of the buffer.
            DispatchQueue.concurrentPerform(iterations: images.count) { i in
                images[i].cnnInput(into: UnsafeMutablePointer<Float>(bitPattern: base)! + i * size, framing: framing)
            }
        }
        var features = [Float](repeating: 0, count: images.count * outputDimension)
        var logits = [Float](repeating: 0, count: wantLogits ? images.count * Self.classCount : 0)
        input.withUnsafeBufferPointer { x in
            features.withUnsafeMutableBufferPointer { f in
                logits.withUnsafeMutableBufferPointer { l in
                    run(
                        x.baseAddress!, count: images.count, features: f.baseAddress!,
                        logits: wantLogits ? l.baseAddress! : nil)
                }
            }
        }
        return (features, logits)
    }

    /// The L2-normalised embeddings of decoded images, one `outputDimension`-float row each (1280:
    /// how they are stored, with `StandardSpaces.network`).
    public func embed(_ images: [RGBImage], framing: Framing = .reference) -> [Float] {
        var features = run(images: images, framing: framing).features
        normalizeRows(&features, dimension: outputDimension)
        return features
    }

    /// `embed`, and the class the network's own classifier ranks first for each image (0–999;
    /// from the mean-pooled features it was trained on, whatever `pooling` stores).
    public func embedAndClassify(
        _ images: [RGBImage], framing: Framing = .reference
    ) -> (
        features: [Float], classes: [Int]
    ) {
        let (raw, logits) = run(images: images, framing: framing, logits: true)
        var features = raw
        normalizeRows(&features, dimension: outputDimension)
        let classes = (0..<images.count).map { n in
            let row = logits[(n * Self.classCount)..<((n + 1) * Self.classCount)]
            return row.indices.max { row[$0] < row[$1] }! - n * Self.classCount
        }
        return (features, classes)
    }
}
