// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// One layer to initialise: its full-precision weight `W`, its quantized-dequantized base `Q` and the Gram
/// matrix `H = X·Xᵀ` of its inputs.
public struct LowRankInitProblem: Sendable {
    /// The name used in errors and reports (a tensor name).
    public let layer: String
    /// `W`, `out × in`.
    public let weight: Matrix
    /// `Q = dequant(quant(W))`, `out × in`.
    public let base: Matrix
    /// `H`, `in × in`, symmetrised as `½(H + Hᵀ)`.
    public let gram: DoubleMatrix

    /// Validates the shapes and values and symmetrises `gram`.
    ///
    /// - Throws: ``LowRankInitError/shapeMismatch(layer:matrix:expected:actual:)`` when `base` is not the
    ///   shape of `weight` or `gram` is not `in × in`; ``LowRankInitError/nonFiniteValue(layer:matrix:row:column:)``
    ///   naming "W", "Q" or "H"; ``LowRankInitError/negativeGramDiagonal(layer:index:value:)``.
    public init(layer: String, weight: Matrix, base: Matrix, gram: DoubleMatrix) throws(LowRankInitError) {
        let (rows, columns) = (weight.rows, weight.columns)
        guard base.rows == rows, base.columns == columns else {
            throw .shapeMismatch(
                layer: layer, matrix: "Q", expected: [rows, columns], actual: [base.rows, base.columns])
        }
        guard gram.rows == columns, gram.columns == columns else {
            throw .shapeMismatch(
                layer: layer, matrix: "H", expected: [columns, columns], actual: [gram.rows, gram.columns])
        }
        try Self.requireFinite(weight.values, columns: columns, layer: layer, matrix: "W")
        try Self.requireFinite(base.values, columns: columns, layer: layer, matrix: "Q")
        try Self.requireFinite(gram.values, columns: columns, layer: layer, matrix: "H")
        var symmetric = gram
        for i in 0..<columns {
            guard gram[i, i] >= 0 else { throw .negativeGramDiagonal(layer: layer, index: i, value: gram[i, i]) }
            for j in (i + 1)..<max(i + 1, columns) {
                let mean = 0.5 * (gram[i, j] + gram[j, i])
                symmetric[i, j] = mean
                symmetric[j, i] = mean
            }
        }
        self.layer = layer
        self.weight = weight
        self.base = base
        self.gram = symmetric
    }

    /// Throws ``LowRankInitError/nonFiniteValue(layer:matrix:row:column:)`` at the first NaN or infinity.
    static func requireFinite<T: BinaryFloatingPoint>(
        _ values: [T], columns: Int, layer: String, matrix: String
    ) throws(LowRankInitError) {
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteValue(layer: layer, matrix: matrix, row: index / columns, column: index % columns)
        }
    }
}
