import KindredFeatures
import KindredStore

/// The vector spaces kindredd keeps for every image.
public enum StandardSpaces {
    public static let cnn = VectorSpace(name: "cnn", dimension: EfficientNetLite0.featureDimension, producer: 1)
    public static let style = VectorSpace(name: "style", dimension: StyleDescriptor.dimension, producer: StyleDescriptor.producerVersion)
    public static let phash = VectorSpace(name: "phash", dimension: 8, element: .uint8, producer: PerceptualHash.producerVersion)
    public static let all = [cnn, style, phash]
}
