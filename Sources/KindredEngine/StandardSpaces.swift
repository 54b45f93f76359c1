import KindredCore
import KindredFeatures
import KindredImaging
import KindredStore

/// The spaces kindredd keeps for every image (`Space`), each with its producer's version, and how
/// a picture is prepared before any of them describes it.
public enum StandardSpaces {
    /// Borders trimmed, the whole picture shown to the CNN: measured against the reference's
    /// centre crop on the dev sets (Benchmarks/RESULTS.md, "Find similar"). Ingestion and
    /// SIMILAR-IMAGE both prepare pictures through this one value.
    public static let framing = Framing(fit: .whole, trimBorders: true)
    /// The framing's revision, part of every described space's producer version, so that changing
    /// the framing re-extracts collections in the background: 0 was the reference's centre crop
    /// without trimming; 1 trimmed each side by its corner's colour; 2 is `framing` above, whose
    /// trim cuts only frames: opposite sides alike (`RGBImage.trimmingUniformBorders`).
    static let framingRevision: UInt32 = 2
    static func producer(_ own: UInt32) -> UInt32 { own | framingRevision << 16 }
    /// How the CNN's last feature map becomes the stored vector: measured against the reference's
    /// mean on both dev sets (Benchmarks/RESULTS.md, "Pooling the last feature map"). Ingestion
    /// and SIMILAR-IMAGE both run networks made by `network(weights:batchSize:threads:)`.
    public static let pooling = CNNPooling.rootMeanSquare
    /// The pooling's revision, part of the cnn space's producer version, so that changing the
    /// pooling re-extracts collections in the background: 0 was the mean; 1 is `pooling` above.
    static let poolingRevision: UInt32 = 1

    public static let cnn = VectorSpace(
        .cnn, producer: producer(EfficientNetLite0.producerVersion | poolingRevision << 8))
    public static let style = VectorSpace(.style, producer: producer(StyleDescriptor.producerVersion))
    public static let phash = VectorSpace(.phash, producer: producer(PerceptualHash.producerVersion))
    public static let thumb = VectorSpace(.thumb, producer: 1)
    public static let all = [cnn, style, phash, thumb]
    /// The spaces an indexed item must have; start-up repair re-extracts items missing one. The
    /// thumbnail is not among them: items indexed before it existed keep working (the map decodes
    /// their files instead) rather than all being extracted again.
    public static let required = [cnn, style, phash]

    /// The thumbnail an item keeps, and a query by image is compared by (`Fusion`'s region term):
    /// the decoded picture as the file shows it, untrimmed, fitted in `Space.thumbnailSide`
    /// pixels and centred on `RGBImage.thumbnailBackground`.
    public static func thumbnail(of decoded: RGBImage) -> [UInt8] {
        decoded.squareThumbnail(side: Space.thumbnailSide).pixels
    }

    /// The CNN's arithmetic kindredd asks for: int16 where it pays (`CNNPrecisionChoice.auto`).
    /// On 7,018 real pictures int16's vectors are within cosine 0.9995 of fp32's and category P@10
    /// moves by 0.0004 (Benchmarks/RESULTS.md, "Reduced precision"). Not part of the cnn space's
    /// producer version: vectors of either precision are compared with each other, so a
    /// collection may mix them and changing it re-extracts nothing.
    public static let precision = CNNPrecisionChoice.auto

    /// A network whose vectors are the cnn space's: the stored `pooling`, in either precision
    /// (by default kindredd's on this CPU).
    public static func network(
        weights: ModelWeights, batchSize: Int, threads: Int,
        precision: CNNPrecision = StandardSpaces.precision.onThisCPU.precision
    ) throws(WeightsError)
        -> EfficientNetLite0
    {
        try EfficientNetLite0(
            weights: weights, batchSize: batchSize, threads: threads, pooling: pooling, precision: precision)
    }
}
