import CKindredKernels

/// How similar two vectors are. Cosine is stored as inner product on L2-normalised vectors, so a
/// search computes one dot product per candidate.
public enum Metric: String, Sendable, CaseIterable {
    case cosine
    case l2

    var code: UInt8 { self == .cosine ? 1 : 2 }
    init?(code: UInt8) {
        switch code {
        case 1: self = .cosine
        case 2: self = .l2
        default: return nil
        }
    }

    /// The kernel used for this metric, chosen for this CPU once.
    var kernel: kk_distance_fn {
        self == .cosine ? Kernels.dot : Kernels.l2sq
    }
}

enum Kernels {
    static let dot: kk_distance_fn = kk_select_dot()
    static let l2sq: kk_distance_fn = kk_select_l2sq()
    /// The instruction set the kernels use here: "avx512", "avx2" or "scalar".
    static var isa: String { String(cString: kk_isa()) }
}

/// The dot product of two rows of one length, by the kernel chosen for this CPU: the cosine
/// similarity of unit vectors (how the fused ranking compares style vectors).
public func dotProduct(_ a: [Float], _ b: [Float]) -> Float {
    a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in dotProduct(x, y) } }
}

/// The same, over rows the caller holds (a stored vector read in place).
public func dotProduct(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
    precondition(a.count == b.count, "rows of \(a.count) and \(b.count)")
    guard let x = a.baseAddress, let y = b.baseAddress else { return 0 }
    return Kernels.dot(x, y, a.count)
}

/// The instruction set the distance kernels run with on this machine.
public var distanceKernelISA: String { Kernels.isa }

/// The instruction set the compact-code kernels run with here: "avx512-vnni", "avx512", "avx2" or
/// "scalar" (int8 needs AVX-512BW, which some AVX-512 CPUs lack).
public var codeKernelISA: String { String(cString: kk_code_isa(kk_code_level())) }
