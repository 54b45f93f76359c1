import KindredFeatures
import KindredStore

/// The vector spaces kindredd keeps for every image.
public enum StandardSpaces {
    public static let cnn = VectorSpace(name: "cnn", dimension: EfficientNetLite0.featureDimension, producer: 1)
    public static let style = VectorSpace(name: "style", dimension: StyleDescriptor.dimension, producer: StyleDescriptor.producerVersion)
    public static let phash = VectorSpace(name: "phash", dimension: 8, element: .uint8, producer: PerceptualHash.producerVersion)
    /// A 32 × 32 RGB thumbnail (3 KB), for maps of large collections (`kindred map`).
    public static let thumb = VectorSpace(name: "thumb", dimension: thumbSide * thumbSide * 3, element: .uint8, producer: 1)
    public static let thumbSide = 32
    public static let all = [cnn, style, phash, thumb]
    /// The spaces an indexed item must have; start-up repair re-extracts items missing one. The
    /// thumbnail is not among them: items indexed before it existed keep working (the map decodes
    /// their files instead) rather than all being extracted again.
    public static let required = [cnn, style, phash]
}
