// SPDX-License-Identifier: Apache-2.0
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

    /// Bytes written for this tensor.
    var outputByteCount: Int {
        (shape.last.flatMap { outputType.rowByteCount(elements: $0) } ?? 0) * shape.dropLast().reduce(1, *)
    }

    /// Writes the converted bytes of this tensor to `stream`.
    func write(to stream: FileOutputStream) throws {
        var rows = sourceBytes
        var permuted: [UInt8] = []
        if let permutation, let inFeatures = shape.last, let rowBytes = sourceType.rowByteCount(elements: inFeatures),
            rowBytes > 0
        {
            permuted = [UInt8](repeating: 0, count: sourceBytes.count)
            permuted.withUnsafeMutableBytes { destination in
                QKPermutation.permuteRows(
                    sourceBytes, into: destination, heads: permutation.heads, rowByteCount: rowBytes,
                    direction: permutation.direction)
            }
        }
        try permuted.withUnsafeBytes { permutedBytes in
            if permutation != nil { rows = permutedBytes }
            if sourceType == outputType {
                try stream.write(rows)
            } else {
                let count = Shape.elementCount(shape) ?? 0
                try stream.write(try TensorEncoding.convert(rows, count: count, from: sourceType, to: outputType))
            }
        }
        MappedFile.releasePages(of: sourceBytes)
    }

    /// The cast this tensor undergoes, if its type changes.
    var cast: ConversionReport.Cast? {
        guard sourceType != outputType else { return nil }
        return ConversionReport.Cast(
            tensor: hfName, from: sourceType.name, to: outputType.name,
            lossless: TensorEncoding.isLossless(from: sourceType, to: outputType))
    }
}

extension LlamaHyperparameters {
    /// The Q/K permutation heads for an HF tensor name, or nil for tensors that are not permuted.
    func permutationHeads(forHF name: String) -> Int? {
        switch LlamaTensorNames.role(ofHF: name)?.role {
        case .query: headCount
        case .key: kvHeadCount
        default: nil
        }
    }
}
