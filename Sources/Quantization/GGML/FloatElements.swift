// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// `F32` rows: little-endian IEEE binary32, copied unchanged.
enum F32Element: GGMLBlockEncoding {
    static let type = GGMLType.f32
    static let blockSize = 1
    static let typeSize = 4
    static var requiresFiniteInput: Bool { false }

    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into values: UnsafeMutablePointer<Float>) {
        values.pointee = Float(
            bitPattern: UInt32(littleEndian: block.loadUnaligned(as: UInt32.self)))
    }

    @inline(__always)
    static func quantize(block values: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        block.storeU32(values.pointee.bitPattern, at: 0)
    }
}

/// `F16` rows: IEEE binary16; widening is exact, narrowing rounds to nearest even (numpy `astype(float16)`,
/// ggml `GGML_FP32_TO_FP16`).
enum F16Element: GGMLBlockEncoding {
    static let type = GGMLType.f16
    static let blockSize = 1
    static let typeSize = 2
    static var requiresFiniteInput: Bool { false }

    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into values: UnsafeMutablePointer<Float>) {
        values.pointee = block.f16(at: 0)
    }

    @inline(__always)
    static func quantize(block values: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        block.storeF16(values.pointee, at: 0)
    }
}

/// `BF16` rows: the upper half of a binary32 (ggml `ggml_compute_bf16_to_fp32` / `ggml_compute_fp32_to_bf16`).
enum BF16Element: GGMLBlockEncoding {
    static let type = GGMLType.bf16
    static let blockSize = 1
    static let typeSize = 2
    static var requiresFiniteInput: Bool { false }

    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into values: UnsafeMutablePointer<Float>) {
        values.pointee = HalfPrecision.float(
            fromBF16: UInt16(littleEndian: block.loadUnaligned(as: UInt16.self)))
    }

    @inline(__always)
    static func quantize(block values: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        block.storeBytes(
            of: HalfPrecision.bf16Bits(from: values.pointee).littleEndian, as: UInt16.self)
    }
}
