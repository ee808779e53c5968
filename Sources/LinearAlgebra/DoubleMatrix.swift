// SPDX-License-Identifier: Apache-2.0

/// A dense row-major matrix of `Double`, for the computations that need float64 accuracy
/// (Gram matrices, factorizations, the LoRA initialisation solvers).
public struct DoubleMatrix: Equatable, Sendable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// Elements in row-major order; `values[r * columns + c]` is row `r`, column `c`.
    public var values: [Double]

    /// Creates a matrix from row-major values. Traps if `values.count != rows * columns`.
    public init(rows: Int, columns: Int, values: [Double]) {
        precondition(rows >= 0 && columns >= 0 && values.count == rows * columns, "matrix size mismatch")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// A zero matrix.
    public init(zeros rows: Int, _ columns: Int) {
        self.init(rows: rows, columns: columns, values: [Double](repeating: 0, count: rows * columns))
    }

    /// The float64 copy of a float32 matrix (exact).
    public init(_ matrix: Matrix) {
        self.init(rows: matrix.rows, columns: matrix.columns, values: matrix.values.map { Double($0) })
    }

    /// The element at `row`, `column`.
    public subscript(row: Int, column: Int) -> Double {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    /// The transpose (a copy).
    public func transposed() -> DoubleMatrix {
        var result = DoubleMatrix(zeros: columns, rows)
        values.withUnsafeBufferPointer { source in
            result.values.withUnsafeMutableBufferPointer { target in
                for r in 0..<rows {
                    for c in 0..<columns { target[c * rows + r] = source[r * columns + c] }
                }
            }
        }
        return result
    }

    /// `self − other`, element by element. Traps if the shapes differ.
    public func subtracting(_ other: DoubleMatrix) -> DoubleMatrix {
        precondition(rows == other.rows && columns == other.columns, "matrix shapes differ")
        return DoubleMatrix(rows: rows, columns: columns, values: zip(values, other.values).map { $0 - $1 })
    }

    /// The sum of the element-wise products, `tr(selfᵀ · other)`. Traps if the shapes differ.
    public func dot(_ other: DoubleMatrix) -> Double {
        precondition(rows == other.rows && columns == other.columns, "matrix shapes differ")
        var sum = 0.0
        for i in values.indices { sum += values[i] * other.values[i] }
        return sum
    }

    /// The squared Frobenius norm, the sum of the squared elements.
    public var squaredNorm: Double { dot(self) }
}

extension Matrix {
    /// The float32 copy of a float64 matrix, each element rounded to the nearest float.
    public init(_ matrix: DoubleMatrix) {
        self.init(rows: matrix.rows, columns: matrix.columns, values: matrix.values.map { Float($0) })
    }
}
