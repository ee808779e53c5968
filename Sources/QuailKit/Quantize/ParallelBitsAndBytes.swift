// SPDX-License-Identifier: Apache-2.0
import Quantization
import TensorCore

/// bitsandbytes 4-bit quantization of large tensors in independent chunks on ``ParallelWork`` threads.
///
/// 4-bit blocks are independent, so the tensor is cut into chunks of whole blocks (an even number of
/// elements, so packed bytes never straddle two chunks), each chunk is quantized by
/// ``BitsAndBytes4BitCodec`` without double quantization, and the packed bytes and absmax values are
/// concatenated. Only the last chunk can end in a partial block, exactly as in one call over the whole
/// tensor. Double quantization needs the mean of every absmax, so it runs once on the concatenated values.
/// The result equals one ``BitsAndBytes4BitCodec/quantize(_:shape:as:blockSize:doubleQuantization:nestedRounding:)``
/// call (checked by the tests).
enum ParallelBitsAndBytes {
    /// Values per chunk, rounded down to whole blocks.
    static let elementsPerChunk = 1 << 16

    /// Quantizes `values` (row-major, `shape`) like `BitsAndBytes4BitCodec.quantize` with the CPU nested rule.
    static func quantize4Bit(
        _ values: UnsafeBufferPointer<Float>, shape: [Int], type: BitsAndBytes4BitType, blockSize: Int,
        doubleQuantization: Bool
    ) throws(BitsAndBytesError) -> BitsAndBytes4BitTensor {
        let chunkSize = max(1, elementsPerChunk / max(blockSize, 1)) * max(blockSize, 1)
        guard BitsAndBytes4BitCodec.allowedBlockSizes.contains(blockSize), values.count > chunkSize,
            Shape.elementCount(shape) == values.count
        else {
            return try BitsAndBytes4BitCodec.quantize(
                values, shape: shape, as: type, blockSize: blockSize, doubleQuantization: doubleQuantization)
        }
        let chunkCount = (values.count + chunkSize - 1) / chunkSize
        var results = [Result<BitsAndBytes4BitTensor, BitsAndBytesError>?](repeating: nil, count: chunkCount)
        results.withUnsafeMutableBufferPointer { slots in
            // Each chunk reads its own range of the input and writes only its own slot.
            nonisolated(unsafe) let slots = slots
            nonisolated(unsafe) let values = values
            ParallelWork.forEach(chunkCount) { chunk in
                let range = chunk * chunkSize..<min(values.count, (chunk + 1) * chunkSize)
                slots[chunk] = Result { () throws(BitsAndBytesError) in
                    try BitsAndBytes4BitCodec.quantize(
                        UnsafeBufferPointer(rebasing: values[range]), shape: [range.count], as: type,
                        blockSize: blockSize, doubleQuantization: false)
                }
            }
        }
        var packed: [UInt8] = []
        packed.reserveCapacity((values.count + 1) / 2)
        var absmax: [Float] = []
        absmax.reserveCapacity((values.count + blockSize - 1) / blockSize)
        var nonFinite: (count: Int, first: Int)?
        for (chunk, result) in results.enumerated() {
            switch result {
            case .success(let part):
                packed += part.packed
                absmax += part.absmax.dequantized()
            case .failure(.nonFiniteValues(let count, let first)):
                let index = chunk * chunkSize + first
                nonFinite = (count + (nonFinite?.count ?? 0), min(index, nonFinite?.first ?? index))
            case .failure(let error):
                throw error
            case nil:
                preconditionFailure("chunk \(chunk) was not quantized")
            }
        }
        if let nonFinite { throw .nonFiniteValues(count: nonFinite.count, firstIndex: nonFinite.first) }
        let scales: BitsAndBytesAbsmax =
            doubleQuantization
            ? .nested(try BitsAndBytesNestedAbsmax(quantizing: absmax, rounding: .cpuLookupTable)) : .plain(absmax)
        return try BitsAndBytes4BitTensor(type: type, blockSize: blockSize, shape: shape, packed: packed, absmax: scales)
    }
}
