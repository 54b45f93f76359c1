import CKindredKernels

/// The arithmetic of the network's 1×1 convolutions (the expansions, projections and head: about
/// 85 % of its multiply-adds).
public enum CNNPrecision: String, Sendable, Hashable, CaseIterable {
    /// Single precision throughout: the oracle's arithmetic, cosine 1.0 against onnxruntime.
    case fp32
    /// 16-bit integers (`kk_pointwise_i16`): weights per output channel and inputs per pixel in
    /// ±1023 steps of their largest magnitude, sums exact in int32. The stem, the depthwise
    /// convolutions, the projections to 48 outputs or fewer (the first five blocks', to 16, 24 and 40:
    /// `Parameters.int16Pays`), pooling and the classifier stay fp32. Fast only with AVX-512 VNNI (`isFast`). Benchmarks/RESULTS.md,
    /// "Reduced precision", measures it against fp32 and onnxruntime, and says why not 8 bits.
    case int16

    /// Whether this CPU runs this precision at least as fast as fp32: int16 needs AVX-512 VNNI,
    /// without which its portable kernel (the reference the tests check VNNI against) is several
    /// times slower.
    public var isFast: Bool {
        switch self {
        case .fp32: true
        case .int16: kk_i16_fast() != 0
        }
    }

    /// What to run when `self` is asked for: itself where this CPU runs it fast, fp32 otherwise,
    /// with the reason for the caller's log.
    public var onThisCPU: (precision: CNNPrecision, fallback: String?) {
        isFast ? (self, nil) : (.fp32, "cnn precision \(rawValue) needs AVX-512 VNNI, which this CPU lacks: using fp32")
    }
}
