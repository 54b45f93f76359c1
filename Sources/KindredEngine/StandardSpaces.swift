import KindredCore
import KindredFeatures
import KindredStore

/// The spaces kindredd keeps for every image (`Space`), each with its producer's version.
public enum StandardSpaces {
    public static let cnn = VectorSpace(.cnn, producer: EfficientNetLite0.producerVersion)
    public static let style = VectorSpace(.style, producer: StyleDescriptor.producerVersion)
    public static let phash = VectorSpace(.phash, producer: PerceptualHash.producerVersion)
    public static let thumb = VectorSpace(.thumb, producer: 1)
    public static let all = [cnn, style, phash, thumb]
    /// The spaces an indexed item must have; start-up repair re-extracts items missing one. The
    /// thumbnail is not among them: items indexed before it existed keep working (the map decodes
    /// their files instead) rather than all being extracted again.
    public static let required = [cnn, style, phash]
}
