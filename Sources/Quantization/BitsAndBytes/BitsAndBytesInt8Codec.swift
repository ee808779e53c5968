// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// An LLM.int8 weight as bitsandbytes `Linear8bitLt` stores it: `weight` I8[rows, columns] and `SCB` F32[rows].
public struct BitsAndBytesInt8Tensor: Sendable, Equatable {
    /// Output features (rows of the `[out, in]` weight).
    public let rows: Int
    /// Input features.
    public let columns: Int
    /// Row-major int8 codes `CB` (`weight`).
    public let codes: [Int8]
    /// Per-row absmax `SCB` (float32).
    public let rowScales: [Float]

    /// Wraps stored parts after checking their lengths.
    ///
    /// - Throws: ``BitsAndBytesError/invalidShape(_:)`` for a negative or overflowing shape,
    ///   ``BitsAndBytesError/lengthMismatch(field:expected:actual:)`` for a wrong `weight` or `SCB` length,
    ///   ``BitsAndBytesError/nonFiniteStatistic(field:)`` for a NaN or infinite scale.
    public init(rows: Int, columns: Int, codes: [Int8], rowScales: [Float]) throws(BitsAndBytesError) {
        guard let count = Shape.elementCount([rows, columns]) else { throw .invalidShape([rows, columns]) }
        guard codes.count == count else { throw .lengthMismatch(field: "weight", expected: count, actual: codes.count) }
        guard rowScales.count == rows else {
            throw .lengthMismatch(field: "SCB", expected: rows, actual: rowScales.count)
        }
        guard rowScales.allSatisfy(\.isFinite) else { throw .nonFiniteStatistic(field: "SCB") }
        self.rows = rows
        self.columns = columns
        self.codes = codes
        self.rowScales = rowScales
    }
}

/// LLM.int8 row-wise absmax quantization, byte-exact with bitsandbytes' torch-native backend.
public enum BitsAndBytesInt8Codec {
    /// Quantizes a row-major `[rows, columns]` weight: `CB = round(W * (127 / rowmax))`, `SCB = rowmax`.
    ///
    /// Same as bitsandbytes `nn/modules.py` `Int8Params._quantize` (the weight is first rounded to float16)
    /// followed by `int8_vectorwise_quant` in `backends/default/ops.py` with threshold 0: `rowmax = max|w|`
    /// per row in float32, the float32 scale `127 / rowmax`, a float32 product and round-half-to-even
    /// (`torch.round`). A row of zeros would give 0 · inf = NaN there (an undefined int8 cast); Quail writes
    /// code 0 and `SCB` 0, which dequantize to 0 as any code would.
    /// - Throws: ``BitsAndBytesError/invalidShape(_:)``, ``BitsAndBytesError/shapeMismatch(shape:valueCount:)``,
    ///   ``BitsAndBytesError/nonFiniteValues(count:firstIndex:)``, ``BitsAndBytesError/float16Overflow(count:firstIndex:)``.
    public static func quantize(
        _ values: UnsafeBufferPointer<Float>, rows: Int, columns: Int
    ) throws(BitsAndBytesError) -> BitsAndBytesInt8Tensor {
        guard let count = Shape.elementCount([rows, columns]) else { throw .invalidShape([rows, columns]) }
        guard count == values.count else { throw .shapeMismatch(shape: [rows, columns], valueCount: values.count) }
        if let bad = BitsAndBytesBlockwise.firstNonFinite(values) {
            throw .nonFiniteValues(count: bad.count, firstIndex: bad.firstIndex)
        }
        let halves = values.map { HalfPrecision.float(fromF16: HalfPrecision.f16Bits(from: $0)) }
        let overflow = halves.withUnsafeBufferPointer { BitsAndBytesBlockwise.firstNonFinite($0) }
        if let overflow { throw .float16Overflow(count: overflow.count, firstIndex: overflow.firstIndex) }
        var codes = [Int8](repeating: 0, count: count)
        var scales = [Float](repeating: 0, count: rows)
        for row in 0..<rows {
            let range = row * columns..<(row + 1) * columns
            let rowmax = halves[range].reduce(Float(0)) { max($0, abs($1)) }
            scales[row] = rowmax
            guard rowmax > 0 else { continue }
            let scale = 127 / rowmax
            for i in range { codes[i] = Int8((halves[i] * scale).rounded(.toNearestOrEven)) }
        }
        return try BitsAndBytesInt8Tensor(rows: rows, columns: columns, codes: codes, rowScales: scales)
    }

    /// Dequantizes to float32: `CB * SCB * 7.874015718698502e-3` (two float32 multiplies, left to right).
    ///
    /// Same as `int8_vectorwise_dequant` in bitsandbytes `_ops.py` (default kernel), whose constant is 1/127
    /// as a Python float, rounded to float32 by torch.
    public static func dequantize(_ tensor: BitsAndBytesInt8Tensor) -> [Float] {
        let reciprocal = Float(7.874015718698502e-3)
        return tensor.codes.indices.map { i in
            Float(tensor.codes[i]) * tensor.rowScales[i / max(tensor.columns, 1)] * reciprocal
        }
    }
}
