import CKindredKernels
import Foundation
import KindredCore
import KindredImaging
import KindredTestSupport
import Testing

@testable import KindredFeatures

/// The input make_oracle_fixture.py feeds the oracle, rebuilt here: 2 × 224 × 224 × 3, NHWC.
func syntheticInput() -> [Float] {
    var x = [Float](repeating: 0, count: 2 * 224 * 224 * 3)
    for n in 0..<2 {
        for y in 0..<224 {
            for xx in 0..<224 {
                for c in 0..<3 {
                    let v =
                        sin(0.045 * Double(y) * Double(c + 1) + 0.031 * Double(xx) * Double(n + 1))
                        * cos(0.017 * Double(xx + y) + Double(n) + 0.5 * Double(c))
                    x[((n * 224 + y) * 224 + xx) * 3 + c] = Float(v)
                }
            }
        }
    }
    return x
}

@Suite struct WeightsTests {
    @Test func checkpointParsesToEfficientNetLite0() throws {
        let tensors = try TorchCheckpoint.read(checkpoint)
        #expect(tensors["_conv_stem.weight"]?.shape == [32, 3, 3, 3])
        #expect(tensors["_blocks.15._depthwise_conv.weight"]?.shape == [1152, 1, 3, 3])
        #expect(tensors["_fc.weight"]?.shape == [1000, 1280])
        // 4.65M parameters in the convolutions and classifier, as published.
        let parameters = tensors.filter { !$0.key.contains("running_") && !$0.key.contains("_bn") }.values.reduce(0) {
            $0 + $1.values.count
        }
        #expect((4_500_000...4_800_000).contains(parameters), "\(parameters) parameters")
    }

    @Test func batchNormIsFoldedExactly() throws {
        let raw = try TorchCheckpoint.read(checkpoint)
        let w = raw["_conv_stem.weight"]!.values, gamma = raw["_bn0.weight"]!.values, beta = raw["_bn0.bias"]!.values
        let mean = raw["_bn0.running_mean"]!.values, variance = raw["_bn0.running_var"]!.values
        let stem = convertedWeights["stem.weight"]!.values, bias = convertedWeights["stem.bias"]!.values
        for o in [0, 7, 31] {
            let scale = gamma[o] / (variance[o] + 1e-3).squareRoot()
            #expect(abs(bias[o] - (beta[o] - mean[o] * scale)) < 1e-6)
            // Output channel o, input channel 2, tap (1, 2): [ky][kx][cin][cout] in Kindred's layout.
            #expect(abs(stem[((1 * 3 + 2) * 3 + 2) * 32 + o] - w[((o * 3 + 2) * 3 + 1) * 3 + 2] * scale) < 1e-6)
        }
    }

    @Test func weightFileRoundTripsAndRejectsDamage() throws {
        let directory = temporaryDirectory("weights")
        let url = directory.appendingPathComponent("w.kw")
        try convertedWeights.write(to: url)
        #expect(try ModelWeights.read(from: url) == convertedWeights)
        let good = try Data(contentsOf: url)
        func rejected(_ data: Data, _ expected: String) throws {
            let bad = directory.appendingPathComponent(UUID().uuidString)
            try data.write(to: bad)
            #expect { try ModelWeights.read(from: bad) } throws: {
                "\($0)".contains(expected) && "\($0)".contains("kindred model install")
            }
        }
        var flipped = good
        flipped[good.count / 2] ^= 1
        try rejected(flipped, "checksum mismatch")
        try rejected(good.prefix(good.count - 1000), "checksum mismatch")
        try rejected(Data("not weights at all, just text that is long enough".utf8), "no KNDRWGTS magic")
        // A shape whose element count times 4 overflows, behind a valid checksum (Fuzz/fuzz-weights
        // found this allocating exabytes).
        var huge = Array("KNDRWGTS".utf8)
        for word: UInt32 in [1, 0, 1, 1] { withUnsafeBytes(of: word.littleEndian) { huge += $0 } }
        huge += Array("w".utf8)
        for word: UInt32 in [2, 0xFFFF_FFFF, 0x4000_0001] { withUnsafeBytes(of: word.littleEndian) { huge += $0 } }
        var checksum = Checksum()
        huge.withUnsafeBytes { checksum.update($0) }
        withUnsafeBytes(of: checksum.value.littleEndian) { huge += $0 }
        try rejected(Data(huge), "tensor w runs past the end")
        // A NaN behind a valid checksum: every vector would be NaN.
        var nan = Array("KNDRWGTS".utf8)
        for word: UInt32 in [1, 0, 1, 1] { withUnsafeBytes(of: word.littleEndian) { nan += $0 } }
        nan += Array("w".utf8)
        for word: UInt32 in [1, 2, Float(1.5).bitPattern, Float.nan.bitPattern] {
            withUnsafeBytes(of: word.littleEndian) { nan += $0 }
        }
        checksum = Checksum()
        nan.withUnsafeBytes { checksum.update($0) }
        withUnsafeBytes(of: checksum.value.littleEndian) { nan += $0 }
        try rejected(Data(nan), "tensor w holds nan at element 1; weights must be finite")
        #expect { try ModelFiles.load(from: StatePaths(root: directory.appendingPathComponent("empty"))) } throws: {
            "\($0)".contains("weights are not installed. Run `kindred model install`")
        }
    }

    @Test func foreignPicklesAreRefusedByName() throws {
        var unpickler = Unpickler(bytes: [0x80, 0x02, 0x93, 0x2E])
        #expect { try unpickler.load() } throws: {
            ($0 as! Unpickler.Failure).message == "unsupported pickle opcode 0x93 at byte 2"
        }
        var truncated = Unpickler(bytes: [0x80, 0x02, 0x58, 0xFF, 0xFF, 0x00, 0x00, 0x41])
        #expect { try truncated.load() } throws: { ($0 as! Unpickler.Failure).message.contains("runs past the end") }
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("kindred-\(UUID().uuidString).pth")
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2654435761) }).write(to: bad)
        #expect(throws: WeightsError.self) { try EfficientNetLite0.convert(checkpoint: bad) }
    }
}

@Suite struct CNNOracleTests {
    /// Every kernel level this CPU runs (x86-64 baseline, AVX2+FMA, AVX-512) against the oracle,
    /// and against the highest level.
    @Test func featuresAndClassesMatchTheOnnxOracle() throws {
        let oracleFeatures = try Npy.read(
            Bundle.module.url(forResource: "oracle_features", withExtension: "npy")!, as: Float.self
        ).values
        let oracleLogits = try Npy.read(
            Bundle.module.url(forResource: "oracle_logits", withExtension: "npy")!, as: Float.self
        ).values
        let input = syntheticInput()
        var byLevel: [[Float]] = []
        for level in EfficientNetLite0.supportedLevels {
            let network = try EfficientNetLite0(weights: convertedWeights, batchSize: 2, threads: 2, level: level)
            var features = [Float](repeating: 0, count: 2 * 1280), logits = [Float](repeating: 0, count: 2 * 1000)
            network.run(input, count: 2, features: &features, logits: &logits)
            for n in 0..<2 {
                let similarity = cosine(
                    features[(n * 1280)..<((n + 1) * 1280)], oracleFeatures[(n * 1280)..<((n + 1) * 1280)])
                #expect(similarity >= 0.9999, "level \(level), image \(n): cosine \(similarity) with the oracle")
                let ours = (0..<1000).max { logits[n * 1000 + $0] < logits[n * 1000 + $1] }!
                let theirs = (0..<1000).max { oracleLogits[n * 1000 + $0] < oracleLogits[n * 1000 + $1] }!
                #expect(ours == theirs, "level \(level), image \(n)")
            }
            byLevel.append(features)
        }
        #expect(!byLevel.isEmpty)
        for (level, features) in zip(EfficientNetLite0.supportedLevels, byLevel) {
            for n in 0..<2 {
                let range = (n * 1280)..<((n + 1) * 1280)
                let similarity = cosine(features[range], byLevel.last![range])
                #expect(similarity >= 0.99999, "level \(level) against the highest, image \(n): \(similarity)")
            }
        }
    }

    /// One image with more threads than images splits every layer's rows over the threads; the
    /// features and logits must be bit-identical to one thread's, whatever the split, at every
    /// kernel level.
    @Test func oneImageSplitOverThreadsIsBitIdentical() throws {
        let input = syntheticInput()
        for level in EfficientNetLite0.supportedLevels {
            var reference = [Float](repeating: 0, count: 1280), referenceLogits = [Float](repeating: 0, count: 1000)
            try EfficientNetLite0(weights: convertedWeights, batchSize: 1, threads: 1, level: level).run(
                input, count: 1, features: &reference, logits: &referenceLogits)
            for threads in [2, 3, 5] {
                var features = [Float](repeating: 0, count: 1280), logits = [Float](repeating: 0, count: 1000)
                try EfficientNetLite0(weights: convertedWeights, batchSize: 1, threads: threads, level: level).run(
                    input, count: 1, features: &features, logits: &logits)
                #expect(features == reference, "level \(level), \(threads) threads")
                #expect(logits == referenceLogits, "level \(level), \(threads) threads")
            }
        }
    }

    /// A part that runs out of rows takes the far half of another's (`kk_rows`). Here part 0 of
    /// three runs to the end before parts 1 and 2 start, as if their cores were taken: it takes
    /// its own rows, then steals until what is left is too small to share, and parts 1 and 2 do
    /// the rest. Every block, the stem and the head, at every level and precision, come out
    /// bit-identical to one part, with every output row written.
    @Test func rowsStolenFromASlowPartAreBitIdentical() throws {
        let parameters = try EfficientNetLite0.Parameters(convertedWeights)
        let int16 = try EfficientNetLite0.Parameters(convertedWeights, precision: .int16)
        let rows = OpaquePointer(UnsafeMutableRawPointer.allocate(byteCount: kk_rows_size(), alignment: 64))
        defer { UnsafeMutableRawPointer(rows).deallocate() }
        var random = SystemRandomNumberGenerator()
        /// Runs `layer(part)` once with one part, then with three parts one after another.
        func compare(
            _ name: String, _ count: Int, _ outputs: Int, _ layer: (Int32, UnsafeMutablePointer<Float>) -> Void
        ) {
            var one = [Float](repeating: .nan, count: outputs), three = one
            kk_rows_init(rows, Int32(count), 1)
            one.withUnsafeMutableBufferPointer { layer(0, $0.baseAddress!) }
            kk_rows_init(rows, Int32(count), 3)
            three.withUnsafeMutableBufferPointer { out in for part in Int32(0)..<3 { layer(part, out.baseAddress!) } }
            let unwritten = one.contains(where: \.isNaN) || three.contains(where: \.isNaN)
            let identical = one.elementsEqual(three) { $0.bitPattern == $1.bitPattern }
            #expect(!unwritten, "\(name): rows left unwritten")
            #expect(identical, "\(name)")
        }
        for level in EfficientNetLite0.supportedLevels {
            let image = (0..<(224 * 224 * 3)).map { _ in Float.random(in: -1...1, using: &random) }
            let stem = parameters.stem
            var scratch = [[Float]](repeating: [Float](repeating: 0, count: 112 * 27), count: 3)
            compare("stem, level \(level)", 112, 112 * 112 * 32) { part, out in
                kk_conv_shared(
                    level, image, 224, 224, 3, stem.weight, stem.bias, 3, 2, 0, 0, 32, 1, out, 112, rows, part,
                    &scratch[Int(part)])
            }
            for (index, var block) in (parameters.blocks + int16.blocks).enumerated() {
                let x = (0..<Int(block.h * block.w * block.input)).map { _ in Float.random(in: 0...6, using: &random) }
                let size = kk_block_scratch(&block)
                var scratch = [[Float]](repeating: [Float](repeating: 0, count: size), count: 3)
                let name = "block \(index % parameters.blocks.count), \(block.project_i16 == nil ? "fp32" : "int16")"
                compare("\(name), level \(level)", Int(block.oh), Int(block.oh * block.ow * block.output)) {
                    part, out in kk_block_shared(level, &block, x, nil, out, rows, part, &scratch[Int(part)])
                }
            }
            let x = (0..<(49 * 320)).map { _ in Float.random(in: 0...6, using: &random) }
            let head = parameters.head
            for packed in [nil, int16.headI16] {
                compare("head, \(packed == nil ? "fp32" : "int16"), level \(level)", 49, 49 * 1280) { part, out in
                    kk_pointwise_shared(level, rows, part, x, 320, head.weight, packed, 1280, head.bias, 1, nil, out)
                }
            }
        }
    }

    @Test func batchingDoesNotChangeResults() throws {
        let input = syntheticInput()
        let together = try EfficientNetLite0(weights: convertedWeights, batchSize: 2, threads: 2)
        let alone = try EfficientNetLite0(weights: convertedWeights, batchSize: 1, threads: 1)
        var a = [Float](repeating: 0, count: 2 * 1280), b = [Float](repeating: 0, count: 2 * 1280)
        together.run(input, count: 2, features: &a)
        alone.run(input, count: 2, features: &b)
        #expect(a == b)
        // The classifier runs once over a batch's pooled features: the same logits, bit for bit,
        // as image by image.
        var batched = [Float](repeating: 0, count: 2 * 1000), single = batched
        together.run(input, count: 2, features: &a, logits: &batched)
        for image in 0..<2 {
            input.withUnsafeBufferPointer { x in
                a.withUnsafeMutableBufferPointer { f in
                    single.withUnsafeMutableBufferPointer { l in
                        alone.run(
                            x.baseAddress! + image * CNNInput.count, count: 1, features: f.baseAddress!,
                            logits: l.baseAddress! + image * 1000)
                    }
                }
            }
        }
        #expect(batched == single && batched.contains { $0 != 0 })
    }

    /// The unpooled map (`--pool map`) is what the poolings pool: its per-channel mean is the
    /// mean's features, its root mean square the stored pooling's, and the logits do not depend on
    /// the pooling.
    @Test func featureMapIsWhatThePoolingsPool() throws {
        let input = syntheticInput()
        let pooled = try EfficientNetLite0(weights: convertedWeights, batchSize: 2, threads: 2)
        let unpooled = try EfficientNetLite0(weights: convertedWeights, batchSize: 2, threads: 2, pooling: .featureMap)
        #expect(unpooled.outputDimension == 49 * 1280)
        var mean = [Float](repeating: 0, count: 2 * 1280), map = [Float](repeating: 0, count: 2 * 49 * 1280)
        var logitsA = [Float](repeating: 0, count: 2 * 1000), logitsB = logitsA
        pooled.run(input, count: 2, features: &mean, logits: &logitsA)
        unpooled.run(input, count: 2, features: &map, logits: &logitsB)
        #expect(logitsA == logitsB)
        #expect(map.allSatisfy { $0 >= 0 && $0 <= 6 })  // after ReLU6
        var worst: Float = 0
        for image in 0..<2 {
            for channel in 0..<1280 {
                let sum = (0..<49).reduce(Float(0)) { $0 + map[(image * 49 + $1) * 1280 + channel] }
                worst = max(worst, abs(sum / 49 - mean[image * 1280 + channel]))
            }
        }
        #expect(worst <= 1e-5)

        // Root-mean-square pooling (what kindredd stores) is sqrt(Σ x² / 49) of the same map.
        var rms = [Float](repeating: 0, count: 2 * 1280)
        try EfficientNetLite0(weights: convertedWeights, batchSize: 2, threads: 2, pooling: .rootMeanSquare).run(
            input, count: 2, features: &rms)
        worst = 0
        for image in 0..<2 {
            for channel in 0..<1280 {
                let squares = (0..<49).reduce(Float(0)) {
                    $0 + map[(image * 49 + $1) * 1280 + channel] * map[(image * 49 + $1) * 1280 + channel]
                }
                worst = max(worst, abs((squares / 49).squareRoot() - rms[image * 1280 + channel]))
            }
        }
        #expect(worst <= 1e-5)
        #expect(rms != mean)
    }
}

/// The classifier on stored (unit) vectors, which names clusters, against the network's own head.
@Suite struct ImageNetHeadTests {
    /// On every 60th file of openclipart-png (real clip art), the top class of W·f̂ (no bias, unit
    /// vector) is compared with the full head's top class on the raw features. f̂ is mean-pooled:
    /// the head is applied to stored vectors only for items extracted before kindredd kept each
    /// item's class, whose vectors were mean-pooled. (Root-mean-square pooled vectors, stored
    /// since, agreed on 111 of 136: why the class is now kept at extraction.)
    @Test func headOnUnitVectorsAgreesWithTheNetwork() throws {
        let source = kindredCache.appendingPathComponent("openclipart/usr/share/openclipart/png")
        let files = (FileManager.default.enumerator(atPath: source.path)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".png") }.sorted()
        try #require(files.count > 1000, "no openclipart-png in \(source.path): run `scripts/setup.sh testdata`")
        let images = try stride(from: 0, to: files.count, by: 60).map { i in
            try ImageDecoder.decode(file: source.appendingPathComponent(files[i])).image
        }
        let network = try EfficientNetLite0(weights: convertedWeights, batchSize: 8, threads: 2)
        let (features, logits) = network.run(images: images, logits: true)
        var unit = features
        normalizeRows(&unit, dimension: 1280)
        let names = try ImageNetClassNames.read(
            from: {
                let url = temporaryDirectory("classes").appendingPathComponent("imagenet-classes.tsv")
                try Data(imagenetClassNamesFile.utf8).write(to: url)
                return url
            }())
        #expect(names[0] == "tench" && names[281] == "tabby")
        let head = try ImageNetHead(weights: convertedWeights, names: names)
        let ours = head.topClass(unit, count: images.count)
        let agree = (0..<images.count).filter { n in
            ours[n] == (0..<1000).max { logits[n * 1000 + $0] < logits[n * 1000 + $1] }!
        }.count
        let share = Double(agree) / Double(images.count)
        print("head on unit vectors: top class agrees on \(agree) of \(images.count) (\(share))")
        #expect(share >= 0.85)
    }

    @Test func classNamesFromAHostileFileAreRefused() throws {
        let url = temporaryDirectory("classes-bad").appendingPathComponent("imagenet-classes.tsv")
        for text in [
            "", "n01440764\ttench\n", String(repeating: "n01440764\ttench\n", count: 999) + "n01440764\ta\tb\n",
            String(repeating: "x", count: 300_000),
        ] {
            try Data(text.utf8).write(to: url)
            #expect(throws: WeightsError.self) { try ImageNetClassNames.read(from: url) }
        }
    }
}
