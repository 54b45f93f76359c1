import Foundation

/// A small, fast, seedable generator (Steele, Lea & Flood's SplitMix64), so that every randomised
/// step (k-means++ seeding, UMAP's initialisation and negative sampling, benchmark draws) repeats
/// exactly for a given seed, which `SystemRandomNumberGenerator` cannot.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform in 0..<bound (bound > 0), without modulo bias worth noticing for bounds far below 2⁶⁴.
    public mutating func below(_ bound: Int) -> Int { Int(next().multipliedFullWidth(by: UInt64(bound)).high) }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Float {
        let u = max(Float.leastNormalMagnitude, unit()), v = unit()
        return (-2 * logf(u)).squareRoot() * cosf(2 * .pi * v)
    }
}
