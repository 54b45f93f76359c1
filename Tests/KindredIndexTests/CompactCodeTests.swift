import CKindredKernels
import Foundation
import KindredCore
import KindredTestSupport
import Testing

@testable import KindredIndex

/// The compact-code kernels at every instruction-set level this CPU has, against the scalar ones,
/// and compact-code indexes against exact search.
@Suite struct CompactCodeKernelTests {
    /// Rows written by `VectorEncoding.encode`, through an index of one node per vector, are not
    /// reachable from here; these tests build rows by the layouts in kindred_kernels.h instead.
    func halves(_ values: [Float]) -> [UInt16] { values.map { Float16($0).bitPattern } }

    /// An int8 row of `values`, unpadded, as the encoder writes it (`Int8EncoderTests.reference`).
    func int8Row(_ values: [Float]) -> [UInt8] { Int8EncoderTests().reference(values, padded: values.count) }

    @Test(arguments: [1, 7, 16, 31, 64, 65, 127, 128, 200, 1280, 1283])
    func everyLevelAgreesWithScalar(length: Int) throws {
        var random = SeededRandom(seed: UInt64(length))
        let a = (0..<length).map { _ in random.normal() }
        let b = (0..<length).map { _ in random.normal() }
        let levels = 0...Int(kk_code_level())
        for l2 in [Int32(0), 1] {
            let ha = halves(a), hb = halves(b)
            let ia = int8Row(a), ib = int8Row(b)
            let f16Scalar = kk_code_kernel_at(Int32(KK_ENCODING_FLOAT16), l2, 0)!(ha, hb, length)
            let i8Scalar = kk_code_kernel_at(Int32(KK_ENCODING_INT8), l2, 0)!(ia, ib, length)
            for level in levels {
                let f16Kernel = try #require(kk_code_kernel_at(Int32(KK_ENCODING_FLOAT16), l2, Int32(level)))
                let i8Kernel = try #require(kk_code_kernel_at(Int32(KK_ENCODING_INT8), l2, Int32(level)))
                let f16 = f16Kernel(ha, hb, length)
                let i8 = i8Kernel(ia, ib, length)
                // Float sums in another order differ by rounding; integer sums must be identical.
                #expect(abs(f16 - f16Scalar) <= 1e-4 * max(1, abs(f16Scalar)), "float16 level \(level) l2 \(l2)")
                #expect(abs(i8 - i8Scalar) <= 1e-5 * max(1, abs(i8Scalar)), "int8 level \(level) l2 \(l2)")
            }
            // And both approximate the exact float result.
            var dot: Float = 0, squares: Float = 0, normA: Float = 0, normB: Float = 0
            for i in 0..<length {
                dot += a[i] * b[i]
                squares += (a[i] - b[i]) * (a[i] - b[i])
                normA += a[i] * a[i]
                normB += b[i] * b[i]
            }
            let exact = l2 == 1 ? squares : dot
            let norm = (normA * normB).squareRoot()
            #expect(abs(f16Scalar - exact) <= 2e-3 * max(norm, 1))
            #expect(abs(i8Scalar - exact) <= 0.05 * max(norm, 1))
        }
        // Extreme codes: ±127 everywhere, the largest sums the kernels must not saturate on.
        let extreme = (0..<length).map { Float($0 % 2 == 0 ? 1 : -1) }
        let row = int8Row(extreme)
        for level in levels {
            let kernel = try #require(kk_code_kernel_at(Int32(KK_ENCODING_INT8), 0, Int32(level)))
            let dot = kernel(row, row, length)
            #expect(abs(dot - Float(length)) <= 1e-3 * Float(length), "level \(level)")
        }
    }
}

/// The int8 encoder (`kk_encode_i8`, which writes every int8 row and query) at every level this
/// CPU has, against the Swift it replaced, byte for byte: rows written before and after it meet
/// in one index.
@Suite struct Int8EncoderTests {
    /// The encoder as it was written in Swift (VectorEncoding.encode, before 2026-12-07).
    func reference(_ source: [Float], padded: Int) -> [UInt8] {
        var largest: Float = 0
        for x in source { largest = max(largest, abs(x)) }
        let scale = largest / 127
        let inverse = largest > 0 ? 127 / largest : 0
        var codes = [Int8](repeating: 0, count: padded)
        var squares: Float = 0
        for i in source.indices {
            let code = Int8(max(-127, min(127, (source[i] * inverse).rounded())))
            codes[i] = code
            let decoded = Float(code) * scale
            squares += decoded * decoded
        }
        var row = [UInt8](repeating: 0, count: Int(KK_I8_HEADER_BYTES) + padded)
        withUnsafeBytes(of: scale) { row.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: squares) { row.replaceSubrange(4..<8, with: $0) }
        for (i, c) in codes.enumerated() { row[Int(KK_I8_HEADER_BYTES) + i] = UInt8(bitPattern: c) }
        return row
    }

    @Test(arguments: [1, 7, 63, 64, 65, 200, 1280, 1283])
    func everyLevelWritesTheReferenceBytes(length: Int) throws {
        var random = SeededRandom(seed: UInt64(length) &+ 17)
        let padded = (length + 63) / 64 * 64
        var cases: [[Float]] = [
            (0..<length).map { _ in random.normal() },
            (0..<length).map { _ in max(0, random.normal()) },  // sparse, as CNN features are
            [Float](repeating: 0, count: length),
            [Float](repeating: -3.25, count: length),
        ]
        // Halves exactly: with 127 the largest the inverse is 1, so x · inverse = x and the codes
        // are rounded half away from zero (2.5 → 3, −0.5 → −1), as `rounded()` does.
        let halves: [Float] = [127, 2.5, -2.5, 0.5, -0.5, 1.5, 126.5, -126.5, 0.49999997, -1e-30]
        cases.append((0..<length).map { halves[$0 % halves.count] })
        for (n, source) in cases.enumerated() {
            let expected = reference(source, padded: padded)
            for level in 0...Int(kk_code_level()) {
                var row = [UInt8](repeating: 0xAB, count: expected.count)  // padding must be written
                let written = source.withUnsafeBufferPointer { x in
                    row.withUnsafeMutableBytes {
                        kk_encode_i8_at(x.baseAddress!, length, padded, $0.baseAddress!, Int32(level))
                    }
                }
                #expect(written == 1)
                let differs = row.indices.first { row[$0] != expected[$0] }
                #expect(differs == nil, "case \(n), level \(level): byte \(differs ?? 0) of \(row.count)")
            }
        }
    }
}

/// int4 rows come from the encoder itself (`VectorEncoding.encode`): their header carries the
/// terms that turn the integer code sum into an inner product, which is what needs checking.
@Suite struct Int4CodeTests {
    func row(_ values: [Float]) -> [UInt8] {
        let encoding = VectorEncoding.int4
        var row = [UInt8](repeating: 0xAA, count: encoding.rowBytes(dimension: values.count))
        values.withUnsafeBufferPointer { source in
            row.withUnsafeMutableBytes { encoding.encode(source, into: $0.baseAddress!, dimension: values.count) }
        }
        return row
    }

    func decoded(_ row: [UInt8], dimension: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: dimension)
        row.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer {
                VectorEncoding.int4.decode(raw.baseAddress!, into: $0, dimension: dimension)
            }
        }
        return out
    }

    @Test(arguments: [1, 7, 63, 64, 65, 127, 128, 200, 1280, 1283])
    func kernelsAreTheDecodedInnerProductAtEveryLevel(length: Int) throws {
        var random = SeededRandom(seed: UInt64(length) &+ 99)
        let a = (0..<length).map { _ in random.normal() }
        // A non-negative, skewed vector too: pooled ReLU features look like this.
        let b = (0..<length).map { _ in max(0, random.normal() + 0.3) * 2 }
        let ra = row(a), rb = row(b)
        let da = decoded(ra, dimension: length), db = decoded(rb, dimension: length)
        let padded = VectorEncoding.int4.paddedComponents(dimension: length)
        for l2 in [Int32(0), 1] {
            var expected: Float = 0
            for i in 0..<length { expected += l2 == 1 ? (da[i] - db[i]) * (da[i] - db[i]) : da[i] * db[i] }
            let scalar = kk_code_kernel_at(Int32(KK_ENCODING_INT4), l2, 0)!(ra, rb, padded)
            // The header algebra gives the decoded vectors' inner product (up to float rounding of
            // terms that cancel), and every level sums the same integers.
            let scale = da.map { $0 * $0 }.reduce(0, +).squareRoot() * db.map { $0 * $0 }.reduce(0, +).squareRoot()
            #expect(abs(scalar - expected) <= 1e-4 * max(1, scale), "scalar l2 \(l2): \(scalar) vs \(expected)")
            for level in 0...Int(kk_code_level()) {
                let kernel = try #require(kk_code_kernel_at(Int32(KK_ENCODING_INT4), l2, Int32(level)))
                // Equal up to how each level's compiler contracts the header terms into FMAs.
                #expect(abs(kernel(ra, rb, padded) - scalar) <= 1e-5 * max(1, scale), "level \(level) l2 \(l2)")
            }
        }
        // Decoding stays close: 16 levels from the smallest component to the largest.
        let error = zip(a, da).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
        let norm = a.map { $0 * $0 }.reduce(0, +).squareRoot()
        #expect(error <= 0.2 * norm)
    }

    /// A search's query meets int4 rows at int8 precision: the kernel is the inner product of the
    /// decoded int8 query and the decoded int4 row, at every level.
    @Test(arguments: [1, 64, 127, 128, 200, 1280, 1283])
    func queriesAtInt8PrecisionAgainstInt4Rows(length: Int) throws {
        var random = SeededRandom(seed: UInt64(length) &+ 7)
        let q = (0..<length).map { _ in random.normal() }
        let x = (0..<length).map { _ in max(0, random.normal()) }
        let encoding = VectorEncoding.int4
        var query = [UInt8](repeating: 0xAA, count: encoding.queryBytes(dimension: length))
        q.withUnsafeBufferPointer { source in
            query.withUnsafeMutableBytes { encoding.encodeQuery(source, into: $0.baseAddress!, dimension: length) }
        }
        let scale = query.withUnsafeBytes { $0.load(as: Float.self) }
        let decodedQuery = (0..<length).map { Float(Int8(bitPattern: query[Int(KK_I8_HEADER_BYTES) + $0])) * scale }
        let r = row(x), dx = decoded(r, dimension: length)
        let padded = encoding.paddedComponents(dimension: length)
        let norms =
            decodedQuery.map { $0 * $0 }.reduce(0, +).squareRoot() * dx.map { $0 * $0 }.reduce(0, +).squareRoot()
        for l2 in [Int32(0), 1] {
            var expected: Float = 0
            for i in 0..<length {
                expected += l2 == 1 ? (decodedQuery[i] - dx[i]) * (decodedQuery[i] - dx[i]) : decodedQuery[i] * dx[i]
            }
            for level in 0...Int(kk_code_level()) {
                let kernel = try #require(kk_code_kernel_at(Int32(KK_ENCODING_INT4_QUERY), l2, Int32(level)))
                let got = kernel(query, r, padded)
                #expect(abs(got - expected) <= 1e-4 * max(1, norms), "level \(level) l2 \(l2): \(got) vs \(expected)")
            }
        }
    }

    @Test func constantAndExtremeVectors() throws {
        // A constant vector has no spread: every code is 0 and the offset is the value.
        let constant = [Float](repeating: 0.25, count: 300)
        #expect(decoded(row(constant), dimension: 300) == constant)
        // All codes 15 on both sides: the largest sums the kernels must not saturate on.
        let length = 4096
        let alternating = (0..<length).map { Float($0 % 2 == 0 ? 1 : -1) }
        let r = row(alternating)
        let padded = VectorEncoding.int4.paddedComponents(dimension: length)
        for level in 0...Int(kk_code_level()) {
            let kernel = try #require(kk_code_kernel_at(Int32(KK_ENCODING_INT4), 0, Int32(level)))
            #expect(abs(kernel(r, r, padded) - Float(length)) <= 1e-3 * Float(length), "level \(level)")
        }
        // A zero vector encodes to zeros.
        #expect(decoded(row([Float](repeating: 0, count: 130)), dimension: 130).allSatisfy { $0 == 0 })
    }
}

@Suite struct CompactCodeIndexTests {
    /// Embedding-shaped data: the walk on codes, re-ranked exactly, finds what the float graph finds.
    /// Both graphs are built on two threads, so each is one of many an insertion order gives, and
    /// their recalls differ by chance too: with 200 queries (2,000 neighbours, ~160 missed at ef 64)
    /// that chance alone was ±0.008, and a fresh-clone CI once failed int8 at 0.9135 against 0.914.
    /// 1,000 queries shrink it to about ±0.004 for the 0.01 the codes are allowed.
    @Test(arguments: [VectorEncoding.int8, .float16, .int4])
    func rerankedCodesReachFloatRecall(encoding: VectorEncoding) throws {
        let (base, queries, truth) = try embeddingLikeVectors(n: 20_000, d: 192, queries: 1000)
        let floats = try HNSWIndex.build(base, metric: .cosine, threads: 2, logger: testLogger)
        let codes = try HNSWIndex.build(base, metric: .cosine, encoding: encoding, threads: 2, logger: testLogger)
        try codes.checkIntegrity()
        let exact = MatrixRows(base)
        func measured(_ index: HNSWIndex, exact: MatrixRows?) throws -> Double {
            let found = try (0..<queries.rows).map { q in
                try index.search(queries.row(q), k: 10, ef: 64, exact: exact).map(\.label)
            }
            return recall(found, truth, k: 10)
        }
        let floatRecall = try measured(floats, exact: nil)
        let rerankedRecall = try measured(codes, exact: exact)
        #expect(rerankedRecall >= floatRecall - 0.01, "\(encoding): \(rerankedRecall) against float \(floatRecall)")
        // Re-ranked distances are the exact cosine distances, nearest first.
        let answer = try codes.search(queries.row(0), k: 10, ef: 64, exact: exact)
        let q = queries.row(0)
        for neighbor in answer {
            let v = base.row(Int(neighbor.label))
            let cosine = zip(q, v).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(abs(neighbor.distance - (1 - cosine)) < 1e-4)
        }
        #expect(answer.map(\.distance) == answer.map(\.distance).sorted())
    }

    /// A search `among` a few labels (a small folder's items) compares each with the query and
    /// walks no graph: the exact k nearest of them, re-ranked to exact distances, the excluded
    /// label and labels the index lacks left out, and agreeing with the filtered walk where the
    /// walk finds them.
    @Test(arguments: [VectorEncoding.float32, .int8])
    func aSearchAmongFewLabelsIsTheirExactNearest(encoding: VectorEncoding) throws {
        let (base, queries, _) = try embeddingLikeVectors(n: 5_000, d: 64, queries: 20)
        let index = try HNSWIndex.build(base, metric: .cosine, encoding: encoding, threads: 2, logger: testLogger)
        let exact = encoding == .float32 ? nil : MatrixRows(base)
        let among = (0..<300).map { UInt64($0 * 16 + 5) } + [999_999]
        for q in 0..<queries.rows {
            let query = queries.row(q)
            let found = try index.search(query, k: 10, ef: 64, excluding: among[0], among: among, exact: exact)
            let truth = among.dropFirst().filter { $0 < 5_000 }.map { label -> (UInt64, Float) in
                let v = base.row(Int(label))
                let dot = zip(query, v).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                let norms = (query.reduce(0) { $0 + $1 * $1 } * v.reduce(0) { $0 + $1 * $1 }).squareRoot()
                return (label, 1 - dot / norms)
            }.sorted { $0.1 < $1.1 }.prefix(10)
            #expect(found.map(\.label) == truth.map(\.0), "query \(q)")
            for (neighbor, expected) in zip(found, truth) { #expect(abs(neighbor.distance - expected.1) < 1e-4) }
            let allowed = Set(among.dropFirst())
            let walked = try index.search(
                query, k: 10, ef: 64, excluding: among[0], filter: { allowed.contains($0) }, exact: exact)
            #expect(walked.first?.label == found.first?.label)
        }
        #expect(try index.search(queries.row(0), k: 10, among: [], exact: exact).isEmpty)
    }

    /// Each encoding's default re-rank depth (`VectorEncoding.rerankDepth`) returns what re-ranking
    /// the whole candidate list returns, and the depth stays within k…ef.
    @Test(arguments: [VectorEncoding.int8, .float16])
    func defaultRerankDepthLosesNothing(encoding: VectorEncoding) throws {
        let (base, queries, _) = try embeddingLikeVectors(n: 10_000, d: 256, queries: 200)
        let index = try HNSWIndex.build(base, metric: .cosine, encoding: encoding, threads: 2, logger: testLogger)
        let exact = MatrixRows(base)
        var same = 0
        for q in 0..<queries.rows {
            for k in [1, 10] {
                let shallow = try index.search(queries.row(q), k: k, ef: 64, exact: exact).map(\.label)
                let whole = try index.search(queries.row(q), k: k, ef: 64, exact: exact, rerank: 64).map(\.label)
                if shallow == whole { same += 1 }
            }
        }
        #expect(Double(same) >= 0.99 * Double(2 * queries.rows), "\(encoding): \(same) of \(2 * queries.rows) the same")
        #expect(index.rerankDepth(k: 10, ef: 64) == (encoding == .int8 ? 30 : 20))
        #expect(index.rerankDepth(k: 10, ef: 64, rerank: 1) == 10)
        #expect(index.rerankDepth(k: 10, ef: 16, rerank: 100) == 16)
        #expect(index.rerankDepth(k: 40, ef: 16) == 40)
    }

    @Test func compactIndexesSaveLoadAndCompact() throws {
        let base = clusteredVectors(n: 3000, d: 70)
        for encoding in [VectorEncoding.int8, .float16, .int4] {
            let index = try HNSWIndex.build(base, metric: .l2, encoding: encoding, threads: 2, logger: testLogger)
            for label in stride(from: UInt64(0), to: 1000, by: 3) { index.remove(label: label) }
            let url = temporaryDirectory("codes").appendingPathComponent("\(encoding).hnsw")
            try index.save(to: url)
            let loaded = try HNSWIndex.load(from: url, logger: testLogger)
            #expect(loaded.encoding == encoding)
            try loaded.checkIntegrity()
            for q in stride(from: 1, to: 3000, by: 97) {
                #expect(try loaded.search(base.row(q), k: 5, ef: 40) == index.search(base.row(q), k: 5, ef: 40))
            }
            loaded.compact()
            try loaded.checkIntegrity()
            let found = try loaded.search(base.row(2000), k: 1, ef: 40, exact: MatrixRows(base))
            #expect(found.first?.label == 2000 && found.first?.distance == 0)
        }
    }

    /// A graph re-encoded keeps every node, link and deletion; only its rows change, and its walk
    /// on the new codes finds what a graph built on them finds.
    @Test func reencodingKeepsTheGraph() throws {
        let (base, queries, truth) = try embeddingLikeVectors(n: 10_000, d: 160, queries: 100)
        let built = try HNSWIndex.build(base, metric: .cosine, encoding: .int8, threads: 2, logger: testLogger)
        for label in stride(from: UInt64(0), to: 10_000, by: 10) { built.remove(label: label) }
        let exact = MatrixRows(base)
        for encoding in [VectorEncoding.int4, .float32, .float16] {
            let copy = try built.reencoded(as: encoding, from: exact)
            try copy.checkIntegrity()
            #expect(copy.encoding == encoding && copy.count == built.count && copy.deletedCount == built.deletedCount)
            #expect(copy.liveLabels().sorted() == built.liveLabels().sorted())
            let found = try (0..<queries.rows).map { q in
                try copy.search(queries.row(q), k: 10, ef: 64, exact: exact).map(\.label)
            }
            #expect(found.allSatisfy { $0.allSatisfy { $0 % 10 != 0 } }, "deleted nodes stay deleted")
            let before = try (0..<queries.rows).map { q in
                try built.search(queries.row(q), k: 10, ef: 64, exact: exact).map(\.label)
            }
            // The truth includes the deleted tenth; both indexes lose the same items to it. int4
            // rows are coarser than the int8 ones the graph was built on: they may lose a little.
            let tolerance = encoding == .int4 ? 0.02 : 0.01
            #expect(recall(found, truth, k: 10) >= recall(before, truth, k: 10) - tolerance, "\(encoding)")
        }
        // A label the exact vectors lack keeps its own row, decoded and encoded again.
        let partial = try built.reencoded(as: .int4, from: MatrixRows(base.gathering(rows: Array(0..<5_000))))
        let far = try partial.search(base.row(9_999), k: 1, ef: 64)
        #expect(far.first?.label == 9_999)
    }

    /// Version 1 files (float rows, the encoding byte reserved) still load.
    @Test func versionOneFilesLoadAsFloat() throws {
        let base = clusteredVectors(n: 500, d: 24)
        let url = temporaryDirectory("v1").appendingPathComponent("old.hnsw")
        let index = try HNSWIndex.build(base, metric: .cosine, threads: 1, logger: testLogger)
        try index.save(to: url)
        var bytes = withLegacyChecksum(try Data(contentsOf: url), version: 1)
        try bytes.write(to: url)
        let loaded = try HNSWIndex.load(from: url, logger: testLogger)
        #expect(loaded.encoding == .float32)
        #expect(try loaded.search(base.row(7), k: 3) == index.search(base.row(7), k: 3))
        // A version 1 file claiming an encoding is refused.
        bytes[17] = 2
        try withLegacyChecksum(bytes, version: 1).write(to: url)
        #expect(throws: IndexError.self) { try HNSWIndex.load(from: url, logger: testLogger) }
    }
}
