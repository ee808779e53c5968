// SPDX-License-Identifier: Apache-2.0

/// Quantizes and dequantizes bitsandbytes NF4/FP4 tensors, byte-exact with bitsandbytes on CPU.
///
/// 4-bit codes follow `quantize_4bit` in bitsandbytes `backends/default/ops.py` (bitsandbytes registers no
/// native CPU 4-bit quantizer, so this torch code is what runs on CPU, and it is the one whose output
/// can be checked here without a GPU). CUDA's `kQuantizeBlockwise` differs only for all-zero blocks
/// (it writes code 0) and FP4 values within ±0.0026 of zero.
public enum BitsAndBytes4BitCodec {
    /// The default block size of `quantize_4bit` and of transformers' 4-bit loader.
    public static let defaultBlockSize = 64

    /// The block sizes `quantize_4bit` accepts: 32, 64, ..., 4096.
    public static let allowedBlockSizes: Set<Int> = [32, 64, 128, 256, 512, 1024, 2048, 4096]

    /// Quantizes `values` (a row-major tensor of `shape`) to packed 4-bit codes and block absmax values.
    ///
    /// Same as bitsandbytes `functional.py` `quantize_4bit` with `quant_storage=uint8`; see
    /// ``BitsAndBytesBlockwise`` for the scaling and rounding, ``BitsAndBytesNestedAbsmax`` for double
    /// quantization (`compress_statistics=True`).
    /// - Parameters:
    ///   - values: the elements; `shape` must hold exactly `values.count` of them.
    ///   - shape: the original shape, recorded for the quant-state JSON.
    ///   - type: NF4 or FP4.
    ///   - blockSize: values per absmax block (default 64).
    ///   - doubleQuantization: whether to double-quantize the absmax values.
    ///   - nestedRounding: the 8-bit rounding rule for double quantization.
    /// - Throws: ``BitsAndBytesError/invalidBlockSize(_:)``, ``BitsAndBytesError/invalidShape(_:)``,
    ///   ``BitsAndBytesError/emptyTensor(shape:)``, ``BitsAndBytesError/shapeMismatch(shape:valueCount:)``,
    ///   ``BitsAndBytesError/nonFiniteValues(count:firstIndex:)``, ``BitsAndBytesError/nonFiniteOffset``.
    public static func quantize(
        _ values: UnsafeBufferPointer<Float>, shape: [Int], as type: BitsAndBytes4BitType,
        blockSize: Int = defaultBlockSize, doubleQuantization: Bool = false,
        nestedRounding: BitsAndBytesNestedRounding = .cpuLookupTable
    ) throws(BitsAndBytesError) -> BitsAndBytes4BitTensor {
        let count = try BitsAndBytes4BitTensor.validatedElementCount(shape: shape, blockSize: blockSize)
        guard count == values.count else { throw .shapeMismatch(shape: shape, valueCount: values.count) }
        if let bad = BitsAndBytesBlockwise.firstNonFinite(values) {
            throw .nonFiniteValues(count: bad.count, firstIndex: bad.firstIndex)
        }
        let buckets = type.buckets
        // `torch.nn.functional.pad(scaled, (0, 1))`: an odd count gets one scaled 0.0
        var codes = [UInt8](repeating: buckets.code(for: 0), count: count + count % 2)
        let absmax = codes.withUnsafeMutableBufferPointer {
            BitsAndBytesBlockwise.quantizeDefaultBackend(values, blockSize: blockSize, buckets: buckets, codes: $0)
        }
        let packed = (0..<codes.count / 2).map { codes[2 * $0] << 4 | codes[2 * $0 + 1] }
        let scales: BitsAndBytesAbsmax =
            doubleQuantization
            ? .nested(try BitsAndBytesNestedAbsmax(quantizing: absmax, rounding: nestedRounding))
            : .plain(absmax)
        return try BitsAndBytes4BitTensor(
            type: type, blockSize: blockSize, shape: shape, packed: packed, absmax: scales)
    }

    /// Dequantizes to float32: `quantMap[code_i] * absmax[i / blockSize]` for every element.
    ///
    /// Same as `_dequantize_4bit_compute` in bitsandbytes `backends/default/ops.py` (one float32 multiply;
    /// the native CPU kernel computes the same product). bitsandbytes then casts to the quant-state dtype.
    public static func dequantize(_ tensor: BitsAndBytes4BitTensor) -> [Float] {
        let codebook = tensor.type.codebook
        let absmax = tensor.absmax.dequantized()
        let count = tensor.elementCount
        return (0..<count).map { i in
            let byte = tensor.packed[i / 2]
            let code = i % 2 == 0 ? byte >> 4 : byte & 0x0F
            return codebook[Int(code)] * absmax[i / tensor.blockSize]
        }
    }
}
