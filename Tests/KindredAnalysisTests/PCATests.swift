import Foundation
import KindredAnalysis
import KindredCore
import Testing

@Suite struct PCATests {
    /// 400 points in 12-d with variances 16, 9, 4, 1, then 0.01s, rotated by a random orthogonal map.
    func data() -> Matrix {
        var random = SeededRandom(seed: 5)
        let d = 12, n = 400
        let scales: [Float] = [4, 3, 2, 1] + [Float](repeating: 0.1, count: d - 4)
        var rotation = (0..<(d * d)).map { _ in Double(random.normal()) }
        for c in 0..<d {  // Gram–Schmidt on rows
            for p in 0..<c {
                let dot = (0..<d).reduce(0.0) { $0 + rotation[c * d + $1] * rotation[p * d + $1] }
                for j in 0..<d { rotation[c * d + j] -= dot * rotation[p * d + j] }
            }
            let norm = (0..<d).reduce(0.0) { $0 + rotation[c * d + $1] * rotation[c * d + $1] }.squareRoot()
            for j in 0..<d { rotation[c * d + j] /= norm }
        }
        var values = [Float](repeating: 0, count: n * d)
        for i in 0..<n {
            let z = scales.map { $0 * random.normal() }
            for j in 0..<d {
                values[i * d + j] = 5 + Float((0..<d).reduce(0.0) { $0 + Double(z[$1]) * rotation[$1 * d + j] })
            }
        }
        return Matrix(rows: n, columns: d, storage: values)
    }

    @Test func componentsSatisfyTheEigenEquationOfTheCovariance() throws {
        let x = data()
        let pca = try PCA.fit(x, options: PCA.Options(varianceTarget: 0.95, maxComponents: 10))
        // The covariance, computed independently in double precision.
        let n = x.rows, d = x.columns
        let mean = (0..<d).map { c in (0..<n).reduce(0.0) { $0 + Double(x.storage[$1 * d + c]) } / Double(n) }
        var covariance = [Double](repeating: 0, count: d * d)
        for i in 0..<n {
            for a in 0..<d {
                for b in 0..<d {
                    covariance[a * d + b] +=
                        (Double(x.storage[i * d + a]) - mean[a]) * (Double(x.storage[i * d + b]) - mean[b])
                        / Double(n - 1)
                }
            }
        }
        #expect(pca.components.rows == 3, "16 + 9 + 4 of 30.1 is 0.963 ≥ 0.95; two components would be 0.83")
        for r in 0..<pca.components.rows {
            let v = pca.components.row(r).map(Double.init)
            let cv = (0..<d).map { a in (0..<d).reduce(0.0) { $0 + covariance[a * d + $1] * v[$1] } }
            let lambda = pca.explainedVariance[r]
            #expect(zip(cv, v).allSatisfy { abs($0 - lambda * $1) < 1e-4 * lambda }, "C v = λ v for component \(r)")
            #expect(abs(v.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
            #expect(v.max { abs($0) < abs($1) }! > 0, "scikit-learn's sign convention")
        }
        #expect(abs(pca.varianceRatio.reduce(0, +) - 1) < 1e-9)
        let trace = (0..<d).reduce(0.0) { $0 + covariance[$1 * d + $1] }
        #expect(abs(pca.totalVariance - trace) < 1e-6 * trace)
        // The projection's columns carry the explained variances.
        let y = pca.transform(x)
        for c in 0..<y.columns {
            let variance =
                (0..<n).reduce(0.0) {
                    $0 + Double(y.storage[$1 * y.columns + c]) * Double(y.storage[$1 * y.columns + c])
                } / Double(n - 1)
            #expect(abs(variance - pca.explainedVariance[c]) < 1e-3 * pca.explainedVariance[c])
        }
    }

    @Test func theRandomisedSVDFindsTheSameLeadingComponents() throws {
        let x = data()
        let exact = try PCA.fit(x, options: PCA.Options(varianceTarget: 0.95, maxComponents: 10))
        var options = PCA.Options(varianceTarget: 0.95, maxComponents: 10)
        options.randomizedAbove = 4
        let randomized = try PCA.fit(x, options: options)
        #expect(randomized.components.rows == exact.components.rows)
        for r in 0..<exact.components.rows {
            let dot = zip(exact.components.row(r), randomized.components.row(r)).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(dot > 0.9999, "component \(r), same sign")
            #expect(
                abs(randomized.explainedVariance[r] - exact.explainedVariance[r]) < 1e-4 * exact.explainedVariance[r])
        }
    }

    @Test func badInputIsRefusedWithTheReason() {
        #expect(throws: AnalysisError.tooFewPoints(needed: 2, got: 1, step: "PCA")) {
            try PCA.fit(Matrix(rows: 1, columns: 3))
        }
        #expect(
            throws: AnalysisError.numerical(step: "PCA", reason: "the data has no variance (every row is the same)")
        ) {
            try PCA.fit(Matrix(rows: 5, columns: 3, repeating: 2))
        }
        #expect(throws: AnalysisError.self) {
            try PCA.fit(Matrix(rows: 5, columns: 3), options: PCA.Options(varianceTarget: 1.5))
        }
    }
}
