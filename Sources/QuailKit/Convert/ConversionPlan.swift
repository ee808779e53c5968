// SPDX-License-Identifier: Apache-2.0
import Quantization
import TensorCore

/// One tensor of a conversion: where its bytes come from and what is written.
struct PlannedTensor {
    /// HF name (used in reports).
    let hfName: String
    /// Name in the output file.
    let outputName: String
    /// HF (outermost-first) shape.
    let shape: [Int]
    /// Stored type in the source.
    let sourceType: GGMLType
    /// Type written.
    let outputType: GGMLType
    /// The source bytes (a view into a mapped file).
    let sourceBytes: UnsafeRawBufferPointer
    /// Heads to permute Q/K rows by, and the direction, when the tensor needs it.
    let permutation: (heads: Int, direction: QKPermutation.Direction)?
    /// True when this tensor's values were checked to survive the output type bit for bit (a narrowing
    /// that ``TensorEncoding/isLossless(from:to:)`` cannot promise from the types alone).
    var valuesCheckedExact = false

    /// Bytes written for this tensor.
    var outputByteCount: Int {
        (shape.last.flatMap { outputType.rowByteCount(elements: $0) } ?? 0) * shape.dropLast().reduce(1, *)
    }

    /// Writes the converted bytes of this tensor to `stream`; `clock`, when given, times the encoding.
    ///
    /// - Throws: ``QuantizationError`` when the output type cannot encode the values (NaN or infinity in a
    ///   block type), or a file error.
    func write(to stream: FileOutputStream, clock: EncodingClock? = nil) throws {
        try withOutputOrderedSource { rows in
            if sourceType == outputType {
                try stream.write(rows)
            } else {
                let count = Shape.elementCount(shape) ?? 0
                try stream.write(try TensorEncoding.convert(
                    rows, count: count, from: sourceType, to: outputType, clock: clock))
            }
        }
        MappedFile.releasePages(of: sourceBytes)
    }

    /// The tensor's values as float32, in output row order (Q/K rows permuted when planned).
    ///
    /// - Throws: ``QuantizationError`` if the source type cannot be dequantized.
    func floatValues() throws(QuantizationError) -> [Float] {
        var values = [Float](repeating: 0, count: Shape.elementCount(shape) ?? 0)
        let result = withOutputOrderedSource { rows in
            values.withUnsafeMutableBufferPointer { destination in
                Result { () throws(QuantizationError) in try GGMLCodec.dequantize(rows, as: sourceType, into: destination) }
            }
        }
        try result.get()
        return values
    }

    /// This tensor written as `type` instead (`valuesCheckedExact` when the caller has checked that its
    /// values survive `type` exactly).
    func retyped(_ type: GGMLType, valuesCheckedExact: Bool = false) -> PlannedTensor {
        PlannedTensor(
            hfName: hfName, outputName: outputName, shape: shape, sourceType: sourceType, outputType: type,
            sourceBytes: sourceBytes, permutation: permutation, valuesCheckedExact: valuesCheckedExact)
    }

    /// True when re-encoding the source bytes as `type` and back gives the source bytes again, so that writing
    /// this tensor as `type` loses nothing and a later conversion back restores it bit for bit.
    func survivesRoundTrip(through type: GGMLType) -> Bool {
        guard type != sourceType else { return true }
        let count = Shape.elementCount(shape) ?? 0
        guard let there = try? TensorEncoding.convert(sourceBytes, count: count, from: sourceType, to: type),
            let back = there.withUnsafeBytes({ try? TensorEncoding.convert($0, count: count, from: type, to: sourceType) })
        else { return false }
        return back.elementsEqual(sourceBytes)
    }

    /// Calls `body` with the source bytes in output row order: the mapped bytes, or a permuted copy.
    private func withOutputOrderedSource<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        guard let permutation, let inFeatures = shape.last, let rowBytes = sourceType.rowByteCount(elements: inFeatures),
            rowBytes > 0
        else { return try body(sourceBytes) }
        var permuted = [UInt8](repeating: 0, count: sourceBytes.count)
        permuted.withUnsafeMutableBytes { destination in
            QKPermutation.permuteRows(
                sourceBytes, into: destination, heads: permutation.heads, rowByteCount: rowBytes,
                direction: permutation.direction)
        }
        return try permuted.withUnsafeBytes(body)
    }

    /// The cast this tensor undergoes, if its type changes.
    var cast: ConversionReport.Cast? {
        guard sourceType != outputType else { return nil }
        return ConversionReport.Cast(
            tensor: hfName, from: sourceType.name, to: outputType.name,
            lossless: valuesCheckedExact || TensorEncoding.isLossless(from: sourceType, to: outputType))
    }
}

extension LlamaHyperparameters {
    /// The Q/K permutation heads for an HF tensor name, or nil for tensors that are not permuted (every tensor of
    /// an architecture that keeps HF row order in GGUF).
    func permutationHeads(forHF name: String) -> Int? {
        guard permutesQueryKey else { return nil }
        return switch LlamaTensorNames.role(ofHF: name)?.role {
        case .query: headCount
        case .key: kvHeadCount
        default: nil
        }
    }
}
