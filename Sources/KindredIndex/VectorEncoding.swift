import CKindredKernels
import KindredCore

/// How an index holds its vectors for the graph walk. `float32` is exact; `float16`, `int8` and
/// `int4` are compact codes (2, about 1 and about ½ byte a component) that make the walk read 2×,
/// 4× and (with int4's 64-byte header, at 1280-d) about 7× less memory, with the final candidates
/// re-ranked exactly against the stored vectors (`ExactVectors`).
///
/// - `float16`: IEEE half precision, relative error 2⁻¹¹ a component.
/// - `int8`: one scale a vector (its largest magnitude / 127) and a code in −127…127 a component,
///   so the inner product of two rows is one integer dot product times two scales. A scale per
///   vector needs no training, so a live index whose data drifts never needs re-encoding.
/// - `int4`: an offset and a step a vector and a code in 0…15 a component (`Int4Row` says how
///   the range is chosen), so the inner product is one integer dot product and three terms from
///   the rows' headers. Also untrained.
public enum VectorEncoding: String, Sendable, CaseIterable, Codable {
    case float32
    case float16
    case int8
    case int4

    /// The code in the index file's header.
    var code: UInt8 {
        switch self {
        case .float32: 0
        case .float16: 1
        case .int8: 2
        case .int4: 3
        }
    }

    init?(code: UInt8) {
        guard let match = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = match
    }

    /// Components a row holds: the dimension rounded up so kernels run whole registers and every
    /// row starts on a 64-byte boundary.
    func paddedComponents(dimension: Int) -> Int {
        switch self {
        case .float32: (dimension + 15) / 16 * 16
        case .float16: (dimension + 31) / 32 * 32
        case .int8: (dimension + 63) / 64 * 64
        case .int4: (dimension + 127) / 128 * 128
        }
    }

    /// Bytes a row takes.
    func rowBytes(dimension: Int) -> Int {
        let n = paddedComponents(dimension: dimension)
        switch self {
        case .float32: return n * 4
        case .float16: return n * 2
        case .int8: return Int(KK_I8_HEADER_BYTES) + n
        case .int4: return Int(KK_I4_HEADER_BYTES) + n / 2
        }
    }

    /// The kernel comparing two rows: an inner product, or for L2 a squared distance.
    func kernel(for metric: Metric) -> kk_code_fn {
        switch self {
        case .float32:
            let floats = metric.kernel
            // A float row is a float vector: the float kernels take the same arguments typed.
            return unsafeBitCast(floats, to: kk_code_fn.self)
        case .float16: return kk_code_kernel(Int32(KK_ENCODING_FLOAT16), metric == .l2 ? 1 : 0)!
        case .int8: return kk_code_kernel(Int32(KK_ENCODING_INT8), metric == .l2 ? 1 : 0)!
        case .int4: return kk_code_kernel(Int32(KK_ENCODING_INT4), metric == .l2 ? 1 : 0)!
        }
    }

    /// The kernel comparing a search's query (`encodeQuery`'s form) with a row.
    func queryKernel(for metric: Metric) -> kk_code_fn {
        guard self == .int4 else { return kernel(for: metric) }
        return kk_code_kernel(Int32(KK_ENCODING_INT4_QUERY), metric == .l2 ? 1 : 0)!
    }

    /// How many of the walk's best candidates a search re-ranks by their exact vectors to return
    /// k: as many as the codes' rounding can push the true k behind. Each is a read of a stored
    /// vector (LMDB's B-tree, then 2.5 KB of float16 at 1280-d), about 15 % of a SIMILAR's CPU
    /// when all 64 were re-read. At 100k, ef 64, int8's recall@10 was 0.9815 re-ranking its best
    /// 10 and 0.996 from 20 on (20, 30, 64 alike: RESULTS.md, "Fewer system calls and fewer
    /// re-reads a SIMILAR"); int8 re-ranks 3k, not 2k, as margin for collections whose rows sit
    /// closer together than that set's, at ten more reads a query. int4's needs its whole
    /// candidate list.
    public func rerankDepth(k: Int) -> Int {
        switch self {
        case .float32: k
        case .float16: 2 * k
        case .int8: 3 * k
        case .int4: Int.max
        }
    }

    /// Bytes a search's query takes: a row, or for int4 an int8 row of the int4 padded length.
    func queryBytes(dimension: Int) -> Int {
        self == .int4
            ? Int(KK_I8_HEADER_BYTES) + paddedComponents(dimension: dimension) : rowBytes(dimension: dimension)
    }

    /// Writes a search's query: `encode`'s row, except for int4, where the query is an int8 row
    /// (zero-padded to int4's length) whose header also holds the sum of its codes, the term
    /// `KK_ENCODING_INT4_QUERY` needs. Why: the query is one vector, so keeping it at 8 bits costs
    /// nothing in memory, and the walk's distances then carry only the rows' 4-bit rounding
    /// (RESULTS.md, "int4 walk codes").
    func encodeQuery(_ source: UnsafeBufferPointer<Float>, into row: UnsafeMutableRawPointer, dimension: Int) {
        guard self == .int4 else { return encode(source, into: row, dimension: dimension) }
        let n = paddedComponents(dimension: dimension)
        row.initializeMemory(as: UInt8.self, repeating: 0, count: queryBytes(dimension: dimension))
        VectorEncoding.int8.encode(source, into: row, dimension: dimension)
        let codes = (row + Int(KK_I8_HEADER_BYTES)).assumingMemoryBound(to: Int8.self)
        var sum = 0
        for i in 0..<n { sum += Int(codes[i]) }
        row.assumingMemoryBound(to: Float.self)[2] = Float(sum)
    }

    /// Writes `source` (`dimension` finite floats) as a row at `row`, zero-padded.
    func encode(_ source: UnsafeBufferPointer<Float>, into row: UnsafeMutableRawPointer, dimension: Int) {
        let n = paddedComponents(dimension: dimension)
        switch self {
        case .float32:
            let out = row.assumingMemoryBound(to: Float.self)
            for i in 0..<dimension { out[i] = source[i] }
            for i in dimension..<n { out[i] = 0 }
        case .float16:
            let out = row.assumingMemoryBound(to: UInt16.self)
            for i in 0..<dimension { out[i] = Float16(source[i]).bitPattern }
            for i in dimension..<n { out[i] = 0 }
        case .int8:
            precondition(source.count >= dimension, "\(source.count) floats for a \(dimension)-d row")
            kk_encode_i8(source.baseAddress!, dimension, n, row)
        case .int4:
            Int4Row.encode(source, into: row, dimension: dimension, padded: n)
        }
    }

    /// Reads a row back into floats (exact for `float32`, the decoded approximation otherwise).
    func decode(_ row: UnsafeRawPointer, into out: UnsafeMutableBufferPointer<Float>, dimension: Int) {
        switch self {
        case .float32:
            let floats = row.assumingMemoryBound(to: Float.self)
            for i in 0..<dimension { out[i] = floats[i] }
        case .float16:
            let halves = row.assumingMemoryBound(to: UInt16.self)
            for i in 0..<dimension { out[i] = Float(Float16(bitPattern: halves[i])) }
        case .int8:
            let scale = row.assumingMemoryBound(to: Float.self)[0]
            let codes = (row + Int(KK_I8_HEADER_BYTES)).assumingMemoryBound(to: Int8.self)
            for i in 0..<dimension { out[i] = Float(codes[i]) * scale }
        case .int4:
            Int4Row.decode(row, into: out, dimension: dimension)
        }
    }
}

/// Where an index finds the exact vectors to re-rank its candidates by: the store a daemon keeps,
/// or the matrix an offline build read. A label with no vector keeps the walk's distance.
public protocol ExactVectors {
    /// Calls `body` with `label`'s stored vector (`dimension` floats), or returns nil.
    func withVector<R>(_ label: UInt64, _ body: (UnsafeBufferPointer<Float>) -> R) -> R?

    /// Writes `label`'s vector into `destination`; false, with `destination` as it was, when there
    /// is none of `destination.count` floats. A source whose records need decoding (float16)
    /// decodes straight into `destination`, where `withVector` would decode into scratch space
    /// first.
    func copyVector(_ label: UInt64, into destination: UnsafeMutableBufferPointer<Float>) -> Bool

    /// Calls `body` with each of `labels`' vectors in turn and its place in `labels` (nil for a
    /// label without one); a vector lives until `body` returns. A source whose vectors lie at
    /// scattered addresses looks them all up first and starts fetching them, so that reading them
    /// in turn does not wait on one cache miss after another: the store's reader does.
    func forEachVector(_ labels: [UInt64], _ body: (Int, UnsafeBufferPointer<Float>?) -> Void)
}

extension ExactVectors {
    public func forEachVector(_ labels: [UInt64], _ body: (Int, UnsafeBufferPointer<Float>?) -> Void) {
        for (i, label) in labels.enumerated() where withVector(label, { body(i, $0) }) == nil { body(i, nil) }
    }

    public func copyVector(_ label: UInt64, into destination: UnsafeMutableBufferPointer<Float>) -> Bool {
        withVector(label) { vector in
            guard vector.count == destination.count else { return false }
            _ = destination.update(fromContentsOf: vector)
            return true
        } ?? false
    }
}

/// Exact vectors from a matrix whose row i carries label i: an offline build's input file.
public struct MatrixRows: ExactVectors, Sendable {
    public let matrix: Matrix

    public init(_ matrix: Matrix) { self.matrix = matrix }

    public func withVector<R>(_ label: UInt64, _ body: (UnsafeBufferPointer<Float>) -> R) -> R? {
        guard label < UInt64(matrix.rows) else { return nil }
        return matrix.withRow(Int(label), body)
    }
}

/// The vectors an `ExactVectors` served while an index re-ranked its candidates, kept: a caller
/// that needs the candidates' vectors after the search (the fused ranking's query expansion) has
/// them without reading the store again (`Recorder`).
public struct RecordedVectors: ExactVectors, Sendable {
    var storage: [Float] = []
    var rows = LabelTable<Int>()
    var dimension = 0

    public init() {}

    public var count: Int { rows.count }

    public func withVector<R>(_ label: UInt64, _ body: (UnsafeBufferPointer<Float>) -> R) -> R? {
        guard let row = rows[label] else { return nil }
        return withRow(row, body)
    }

    func withRow<R>(_ row: Int, _ body: (UnsafeBufferPointer<Float>) -> R) -> R {
        storage.withUnsafeBufferPointer { all in
            body(UnsafeBufferPointer(rebasing: all[(row * dimension)..<((row + 1) * dimension)]))
        }
    }

    /// Serves `base`'s vectors of `dimension` floats and records each one it serves. Each is
    /// written once, straight from `base` into the recording (`copyVector`), and served from
    /// there: copying the 64 float16-decoded CNN vectors of a fused query from scratch space
    /// took 1.7 % of a fused SIMILAR's samples (RESULTS.md, "The fused ranking's copies").
    public final class Recorder: ExactVectors {
        let base: any ExactVectors
        public private(set) var recorded: RecordedVectors

        /// `expected`: how many vectors the search will ask for (its `ef`), reserved at once.
        public init(_ base: any ExactVectors, dimension: Int, expected: Int = 0) {
            self.base = base
            recorded = RecordedVectors()
            recorded.dimension = dimension
            recorded.storage.reserveCapacity(expected * dimension)
            recorded.rows.reserveCapacity(expected)
        }

        public func withVector<R>(_ label: UInt64, _ body: (UnsafeBufferPointer<Float>) -> R) -> R? {
            if let row = recorded.rows[label] { return recorded.withRow(row, body) }
            let dimension = recorded.dimension, start = recorded.storage.count
            // The row is written by `base` before anything reads it, and given back when `base`
            // has no vector of this length for the label.
            recorded.storage.append(contentsOf: repeatElement(0, count: dimension))
            let found = recorded.storage.withUnsafeMutableBufferPointer { all in
                base.copyVector(label, into: UnsafeMutableBufferPointer(rebasing: all[start..<(start + dimension)]))
            }
            guard found else {
                recorded.storage.removeLast(dimension)
                return nil
            }
            let row = recorded.rows.count
            recorded.rows[label] = row
            return recorded.withRow(row, body)
        }
    }
}
