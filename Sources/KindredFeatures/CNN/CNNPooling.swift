import CKindredKernels

/// How the network's last feature map (7 × 7 positions × 1280 channels, after ReLU6) becomes the
/// vector an image is described by.
public enum CNNPooling: Sendable, Hashable {
    /// The mean over positions: the reference's global average pooling, what the classifier and
    /// the oracle see.
    case mean
    /// The root mean square over positions: generalised-mean (GeM) pooling with p = 2, which
    /// weighs a channel's strong responses above its faint ones, so a detail that survives a
    /// crop, a mat or a rotation counts for more than what surrounds it. Chosen on both dev sets
    /// among p = 1 (the mean), 1.5, 2, 2.5, 3, 4, the max and regional (R-MAC) poolings
    /// (Benchmarks/RESULTS.md, "Pooling the last feature map"); what kindredd stores
    /// (`StandardSpaces.pooling`).
    case rootMeanSquare
    /// The whole map, unpooled (7 · 7 · 1280 floats, position-major): for studying poolings
    /// offline (`kindred embed --pool map`), never stored.
    case featureMap

    /// Floats an image is described by.
    public var dimension: Int {
        switch self {
        case .mean, .rootMeanSquare: EfficientNetLite0.featureDimension
        case .featureMap: 7 * 7 * EfficientNetLite0.featureDimension
        }
    }

    /// Writes `dimension` floats from the `side` × `side` map and its per-channel `mean`.
    func pool(
        map: UnsafePointer<Float>, side: Int, mean: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>
    ) {
        switch self {
        case .mean: out.update(from: mean, count: EfficientNetLite0.featureDimension)
        case .rootMeanSquare: kk_rms_rows(map, Int32(side * side), Int32(EfficientNetLite0.featureDimension), out)
        case .featureMap: out.update(from: map, count: side * side * EfficientNetLite0.featureDimension)
        }
    }
}
