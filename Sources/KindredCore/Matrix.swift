/// A dense row-major matrix of `Float`: the shape every vector set takes between the store, the
/// index, the analysis and `.npy` files. Rows are contiguous so BLAS can take them as they are.
public struct Matrix: Sendable, Equatable {
    public private(set) var rows: Int
    public let columns: Int
    public var storage: [Float]

    public init(rows: Int, columns: Int, storage: [Float]) {
        precondition(storage.count == rows * columns, "storage holds \(storage.count) floats, not \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    public init(rows: Int, columns: Int, repeating value: Float = 0) {
        self.init(rows: rows, columns: columns, storage: [Float](repeating: value, count: rows * columns))
    }

    /// Calls `body` with row `i`; the buffer is valid only inside the call.
    @inlinable
    public func withRow<R>(_ i: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(i >= 0 && i < rows, "row \(i) out of 0..<\(rows)")
        return try storage.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[(i * columns)..<((i + 1) * columns)]))
        }
    }

    public func row(_ i: Int) -> [Float] { withRow(i) { Array($0) } }

    /// A new matrix of the given rows, in the order given.
    public func gathering(rows selected: [Int]) -> Matrix {
        var storage = [Float]()
        storage.reserveCapacity(selected.count * columns)
        for i in selected {
            precondition(i >= 0 && i < rows, "row \(i) out of 0..<\(rows)")
            storage += self.storage[(i * columns)..<((i + 1) * columns)]
        }
        return Matrix(rows: selected.count, columns: columns, storage: storage)
    }
}

/// Scales each `dimension`-long row of `values` to unit length (zero rows stay zero): how every
/// embedding is stored, so cosine similarity is an inner product.
public func normalizeRows(_ values: inout [Float], dimension: Int) {
    precondition(dimension > 0 && values.count % dimension == 0, "\(values.count) values are not rows of \(dimension)")
    for row in 0..<(values.count / dimension) {
        let range = (row * dimension)..<((row + 1) * dimension)
        let norm = values[range].reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { continue }
        for j in range { values[j] /= norm }
    }
}
