import CKindredKernels
import Foundation
import KindredCore
import KindredIndex
import KindredTestSupport
import Testing

/// The compact-code kernels at every instruction-set level this CPU has, against the scalar ones,
/// and compact-code indexes against exact search.
@Suite struct CompactCodeKernelTests {
    /// Rows written by `VectorEncoding.encode`, through an index of one node per vector, are not
    /// reachable from here; these tests build rows by the layouts in kindred_kernels.h instead.
    func halves(_ values: [Float]) -> [UInt16] { values.map { Float16($0).bitPattern } }

    func int8Row(_ values: [Float]) -> [UInt8] {
        let largest = values.map(abs).max() ?? 0
        let scale = largest / 127
        let inverse: Float = largest > 0 ? 127 / largest : 0
        var codes: [Int8] = []
        var squares: Float = 0
        for value in values {
            let code = Int8(max(-127, min(127, (value * inverse).rounded())))
            codes.append(code)
            squares += Float(code) * scale * Float(code) * scale
        }
        var row = [UInt8](repeating: 0, count: Int(KK_I8_HEADER_BYTES) + codes.count)
        withUnsafeBytes(of: scale) { row.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: squares) { row.replaceSubrange(4..<8, with: $0) }
        for (i, c) in codes.enumerated() { row[Int(KK_I8_HEADER_BYTES) + i] = UInt8(bitPattern: c) }
        return row
    }

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

@Suite struct CompactCodeIndexTests {
    /// Embedding-shaped data: the walk on codes, re-ranked exactly, finds what the float graph finds.
    @Test(arguments: [VectorEncoding.int8, .float16])
    func rerankedCodesReachFloatRecall(encoding: VectorEncoding) throws {
        let (base, queries, truth) = try embeddingLikeVectors(n: 20_000, d: 192, queries: 200)
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

    @Test func compactIndexesSaveLoadAndCompact() throws {
        let base = clusteredVectors(n: 3000, d: 70)
        for encoding in [VectorEncoding.int8, .float16] {
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

    /// Version 1 files (float rows, the encoding byte reserved) still load.
    @Test func versionOneFilesLoadAsFloat() throws {
        let base = clusteredVectors(n: 500, d: 24)
        let url = temporaryDirectory("v1").appendingPathComponent("old.hnsw")
        let index = try HNSWIndex.build(base, metric: .cosine, threads: 1, logger: testLogger)
        try index.save(to: url)
        var bytes = try Data(contentsOf: url)
        bytes[8] = 1
        try bytes.write(to: url)
        let loaded = try HNSWIndex.load(from: url, logger: testLogger)
        #expect(loaded.encoding == .float32)
        #expect(try loaded.search(base.row(7), k: 3) == index.search(base.row(7), k: 3))
        // A version 1 file claiming an encoding is refused.
        bytes[17] = 2
        try bytes.write(to: url)
        #expect(throws: IndexError.self) { try HNSWIndex.load(from: url, logger: testLogger) }
    }
}
