import CKindredKernels

/// The arithmetic of the network's 1×1 convolutions (the expansions, projections and head: about
/// 85 % of its multiply-adds).
public enum CNNPrecision: String, Sendable, Hashable, CaseIterable {
    /// Single precision throughout: the oracle's arithmetic, cosine 1.0 against onnxruntime.
    case fp32
    /// 16-bit integers (`kk_pointwise_i16`): weights per output channel and inputs per pixel in
    /// ±1023 steps of their largest magnitude, sums exact in int32. The stem, the depthwise
    /// convolutions, the projections to 48 outputs or fewer (the first five blocks', to 16, 24 and 40:
    /// `Parameters.int16Pays`), pooling and the classifier stay fp32. Fast only with AVX2 or AVX-512 VNNI
    /// (`isFast`), and faster than fp32 by much only with VNNI (`CNNPrecisionChoice.auto`). Benchmarks/RESULTS.md,
    /// "Reduced precision", measures it against fp32 and onnxruntime, and says why not 8 bits.
    case int16

    /// Whether this CPU runs this precision in a vector kernel: int16 needs AVX2 (VPMADDWD) or
    /// AVX-512 VNNI (VPDPWSSD), without which its portable kernel (the reference the tests check
    /// the vector ones against) is many times slower than fp32.
    public var isFast: Bool {
        switch self {
        case .fp32: true
        case .int16: kk_i16_level() >= 1
        }
    }
}

/// The CNN precision a configuration asks for: one precision, or `auto`, kindredd's default.
/// The one owner of what runs on this CPU for each choice.
public enum CNNPrecisionChoice: String, Sendable, Hashable, CaseIterable {
    /// int16 where it pays, fp32 elsewhere. It pays with AVX-512 VNNI: 1.37–1.74× fp32's images/s.
    /// On AVX2 alone it does not, enough to leave the oracle's arithmetic by default: on a Zen 3
    /// EPYC the AVX2 kernel ran 0.91–1.21× fp32 (VPMADDWD needs a VPADDD beside it, which caps
    /// the kernel at 1.3–1.65× fp32's rate, and the short expansions lose to quantising each row).
    /// Benchmarks/RESULTS.md, "On a Zen 3 EPYC, and int16 on AVX2".
    case auto
    case fp32
    case int16

    /// What runs on this CPU, with the reason for the caller's log when it is not what was asked.
    public var onThisCPU: (precision: CNNPrecision, fallback: String?) {
        switch self {
        case .auto: (kk_i16_level() >= 2 ? .int16 : .fp32, nil)
        case .fp32: (.fp32, nil)
        case .int16:
            CNNPrecision.int16.isFast
                ? (.int16, nil)
                : (.fp32, "cnn precision int16 needs AVX2 or AVX-512 VNNI, which this CPU lacks: using fp32")
        }
    }
}
