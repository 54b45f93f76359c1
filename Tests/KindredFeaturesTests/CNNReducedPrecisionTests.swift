import CKindredKernels
import Foundation
import KindredCore
import KindredTestSupport
import Testing

@testable import KindredFeatures

/// The 16-bit integer 1×1 convolutions (`kk_pointwise_i16`, `CNNPrecision.int16`).
@Suite struct CNNReducedPrecisionTests {
    /// Shapes that cover every tail: rows past a block of 8, inputs past a group of 4 and a
    /// vector of 16, outputs past a vector of 16 and a pair of them, and outputs that end inside a
    /// vector of 8 (AVX2's).
    static let shapes: [(rows: Int, k: Int, n: Int)] = [
        (1, 3, 8), (7, 16, 24), (8, 27, 32), (13, 96, 40), (49, 320, 112), (9, 1152, 320), (3, 5, 1280),
        (5, 33, 45), (2, 7, 3), (11, 64, 61),
    ]

    /// Random weights with a column of zeros, and inputs either signed (a block's input) or
    /// ReLU6-like (mostly zeros, up to 6).
    static func layer(
        _ k: Int, _ n: Int, rows: Int, signed: Bool, seed: UInt64
    )
        -> (w: [Float], bias: [Float], x: [Float], residual: [Float])
    {
        var random = SeededRandom(seed: seed)
        var w = (0..<(k * n)).map { _ in Float.random(in: -0.5...0.5, using: &random) }
        for q in 0..<k { w[q * n + n / 2] = 0 }
        let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &random) }
        let x = (0..<(rows * k)).map { _ in
            signed ? Float.random(in: -3...2, using: &random) : max(0, min(6, Float.random(in: -4...7, using: &random)))
        }
        let residual = (0..<(rows * n)).map { _ in Float.random(in: -2...2, using: &random) }
        return (w, bias, x, residual)
    }

    static func packed(_ w: [Float], _ k: Int, _ n: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: kk_i16_size(Int32(k), Int32(n)), alignment: 64)
        kk_i16_pack(w, Int32(k), Int32(n), p)
        return p
    }

    /// Each vector kernel this CPU has (AVX2; AVX-512 VNNI) and the portable one compute every
    /// output bit for bit alike, with and without ReLU6 and a residual, at every shape.
    @Test(.enabled(if: kk_i16_level() >= 1, "this CPU has no vector int16 kernel (AVX2 or AVX-512 VNNI)"))
    func vectorKernelsAgreeBitForBitWithThePortableOne() {
        for level in 1...kk_i16_level() {
            for (index, shape) in Self.shapes.enumerated() {
                for signed in [false, true] {
                    let l = Self.layer(shape.k, shape.n, rows: shape.rows, signed: signed, seed: UInt64(index))
                    let weights = Self.packed(l.w, shape.k, shape.n)
                    defer { weights.deallocate() }
                    for (relu6, residual) in [(Int32(0), false), (1, false), (0, true)] {
                        var fast = [Float](repeating: .nan, count: shape.rows * shape.n), portable = fast
                        let r: [Float]? = residual ? l.residual : nil
                        kk_pointwise_i16(
                            level, l.x, Int32(shape.rows), Int32(shape.k), weights, Int32(shape.n), l.bias, relu6, r,
                            &fast)
                        kk_pointwise_i16(
                            0, l.x, Int32(shape.rows), Int32(shape.k), weights, Int32(shape.n), l.bias, relu6, r,
                            &portable)
                        let same = fast.elementsEqual(portable) { $0.bitPattern == $1.bitPattern }
                        #expect(
                            same, "level \(level), \(shape), signed \(signed), relu6 \(relu6), residual \(residual)")
                    }
                }
            }
        }
    }

    /// What each configured choice runs: auto is int16 only where VNNI makes it pay; int16 asked
    /// for runs wherever a vector kernel does; neither ever runs the slow portable kernel.
    @Test func eachChoiceRunsWhereItsKernelIs() {
        let level = kk_i16_level()
        #expect(CNNPrecisionChoice.auto.onThisCPU.precision == (level >= 2 ? .int16 : .fp32))
        #expect(CNNPrecisionChoice.auto.onThisCPU.fallback == nil)
        #expect(CNNPrecisionChoice.int16.onThisCPU.precision == (level >= 1 ? .int16 : .fp32))
        #expect((CNNPrecisionChoice.int16.onThisCPU.fallback == nil) == (level >= 1))
        #expect(CNNPrecisionChoice.fp32.onThisCPU.precision == .fp32)
    }

    /// Against the fp32 kernel: the error is the quantisation's, within half a step of each
    /// operand (1/1023 of a row's and a column's largest magnitude), never a wrong sum, panel or
    /// tail.
    @Test func integerSumsMatchTheFloatKernelWithinTheQuantisation() {
        for (index, shape) in Self.shapes.enumerated() {
            for signed in [false, true] {
                let l = Self.layer(shape.k, shape.n, rows: shape.rows, signed: signed, seed: 100 + UInt64(index))
                let weights = Self.packed(l.w, shape.k, shape.n)
                defer { weights.deallocate() }
                var exact = [Float](repeating: 0, count: shape.rows * shape.n), quantised = exact
                kk_pointwise(
                    0, l.x, Int32(shape.rows), Int32(shape.k), l.w, Int32(shape.n), l.bias, 0, l.residual, &exact)
                kk_pointwise_i16(
                    0, l.x, Int32(shape.rows), Int32(shape.k), weights, Int32(shape.n), l.bias, 0, l.residual,
                    &quantised)
                // Each product is off by at most half an input step (|x| ≤ 6) times |w| ≤ 0.5,
                // plus half a weight step (0.5 / 1023) times |x|; over k products.
                let bound = Float(shape.k) * (6 / 1023 / 2 * 0.5 + 0.5 / 1023 / 2 * 6) + 1e-4
                let errors = zip(exact, quantised).map { abs($0 - $1) }
                #expect(errors.max()! <= bound, "\(shape), signed \(signed): \(errors.max()!) > \(bound)")
                // And far inside it on average: rounding errors cancel.
                let mean = errors.reduce(0, +) / Float(errors.count)
                #expect(mean <= bound / 8, "\(shape), signed \(signed): mean \(mean)")
            }
        }
    }

    /// The int16 network stays within #18's threshold of the fp32 one (cosine ≥ 0.999; it measures
    /// 0.9998 at worst on real pictures) on the oracle's input, and predicts the same classes;
    /// every kernel level agrees with the highest.
    @Test func int16FeaturesStayWithinTheThresholdOfFp32() throws {
        let input = syntheticInput()
        var reference = [Float](repeating: 0, count: 2 * 1280), referenceLogits = [Float](repeating: 0, count: 2000)
        try EfficientNetLite0(weights: convertedWeights, batchSize: 2, threads: 2).run(
            input, count: 2, features: &reference, logits: &referenceLogits)
        var byLevel: [[Float]] = []
        for level in EfficientNetLite0.supportedLevels {
            let network = try EfficientNetLite0(
                weights: convertedWeights, batchSize: 2, threads: 2, level: level, precision: .int16)
            var features = [Float](repeating: 0, count: 2 * 1280), logits = [Float](repeating: 0, count: 2000)
            network.run(input, count: 2, features: &features, logits: &logits)
            for n in 0..<2 {
                let range = (n * 1280)..<((n + 1) * 1280)
                let similarity = cosine(features[range], reference[range])
                #expect(similarity >= 0.999, "level \(level), image \(n): cosine \(similarity) with fp32")
                let ours = (0..<1000).max { logits[n * 1000 + $0] < logits[n * 1000 + $1] }!
                let theirs = (0..<1000).max { referenceLogits[n * 1000 + $0] < referenceLogits[n * 1000 + $1] }!
                #expect(ours == theirs, "level \(level), image \(n)")
            }
            byLevel.append(features)
        }
        for (level, features) in zip(EfficientNetLite0.supportedLevels, byLevel) {
            let similarity = cosine(features[...], byLevel.last![...])
            #expect(similarity >= 0.99999, "level \(level) against the highest: \(similarity)")
        }
    }

    /// As in fp32, one image split over threads gives the features of one thread, bit for bit.
    @Test func int16SplitOverThreadsIsBitIdentical() throws {
        let input = syntheticInput()
        var reference = [Float](repeating: 0, count: 1280)
        try EfficientNetLite0(weights: convertedWeights, batchSize: 1, threads: 1, precision: .int16).run(
            input, count: 1, features: &reference)
        for threads in [2, 3] {
            var features = [Float](repeating: 0, count: 1280)
            try EfficientNetLite0(weights: convertedWeights, batchSize: 1, threads: threads, precision: .int16).run(
                input, count: 1, features: &features)
            #expect(features == reference, "\(threads) threads")
        }
    }
}

/// The fp32 1×1 kernel (`kk_pointwise`) at every level against the chain its header promises:
/// bias, then each input's product in order, fused where the level has FMA (AVX2, AVX-512), then
/// ReLU6 and the residual. Shapes cover the narrow kernel (n ≤ KK_NARROW_OUTPUTS: one to three
/// vectors, the last masked; row blocks of 12 and 8 and the leftovers of 8, 4, 2, 1) and the
/// wide one, so no block size, mask or tail changes a bit; weights packed in panels
/// (`kk_pointwise_pack`) give the same bits as rows of n.
@Suite struct PointwiseKernelTests {
    static let shapes: [(rows: Int, k: Int, n: Int)] = [
        (1, 3, 1), (13, 27, 5), (29, 32, 16), (56, 96, 24), (7, 144, 32), (31, 240, 40), (15, 40, 48), (9, 80, 49),
        (23, 24, 144),
    ]

    @Test func everyLevelComputesTheDocumentedChain() {
        for (index, shape) in Self.shapes.enumerated() {
            let l = CNNReducedPrecisionTests.layer(
                shape.k, shape.n, rows: shape.rows, signed: true, seed: 300 + UInt64(index))
            for (relu6, residual) in [(Int32(0), false), (1, false), (1, true)] {
                let r: [Float]? = residual ? l.residual : nil
                var packed = [Float](repeating: .nan, count: kk_pointwise_size(Int32(shape.k), Int32(shape.n)))
                kk_pointwise_pack(l.w, Int32(shape.k), Int32(shape.n), &packed)
                for level in EfficientNetLite0.supportedLevels {
                    let fused = String(cString: kk_cnn_isa(level)) != "baseline"
                    var rowMajor = [Float](repeating: .nan, count: shape.rows * shape.n), inPanels = rowMajor
                    kk_pointwise(
                        level, l.x, Int32(shape.rows), Int32(shape.k), l.w, Int32(shape.n), l.bias, relu6, r,
                        &rowMajor)
                    kk_pointwise_packed(
                        level, l.x, Int32(shape.rows), Int32(shape.k), packed, Int32(shape.n), l.bias, relu6, r,
                        &inPanels)
                    #expect(
                        rowMajor.elementsEqual(inPanels) { $0.bitPattern == $1.bitPattern },
                        "\(shape), level \(level): packed weights give other bits")
                    let out = rowMajor
                    var wrong = 0
                    for i in 0..<shape.rows {
                        for j in 0..<shape.n {
                            var a = l.bias[j]
                            for q in 0..<shape.k {
                                let x = l.x[i * shape.k + q], w = l.w[q * shape.n + j]
                                a = fused ? a.addingProduct(x, w) : a + x * w
                            }
                            if relu6 != 0 { a = min(max(a, 0), 6) }
                            if let r { a += r[i * shape.n + j] }
                            // == rather than bit patterns: ReLU6 may give −0 or +0 for −0.
                            if out[i * shape.n + j] != a { wrong += 1 }
                        }
                    }
                    #expect(
                        wrong == 0, "\(shape), relu6 \(relu6), residual \(residual), level \(level): \(wrong) outputs")
                }
            }
        }
    }
}
