// SPDX-License-Identifier: Apache-2.0
import TensorCore

// Little-endian field access inside one ggml block. Blocks are packed structs, so every access is unaligned.

extension UnsafeRawPointer {
    /// The byte at `offset`.
    @inline(__always)
    func byte(at offset: Int) -> UInt8 {
        load(fromByteOffset: offset, as: UInt8.self)
    }

    /// The little-endian binary16 at `offset`, widened to `Float` (ggml `GGML_FP16_TO_FP32`).
    @inline(__always)
    func f16(at offset: Int) -> Float {
        HalfPrecision.float(
            fromF16: UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// The little-endian `UInt32` at `offset`.
    @inline(__always)
    func u32(at offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

extension UnsafeMutableRawPointer {
    /// The byte at `offset` (read back while a block is being written).
    @inline(__always)
    func byte(at offset: Int) -> UInt8 {
        UnsafeRawPointer(self).byte(at: offset)
    }

    /// The binary16 at `offset` as `Float` (read back while a block is being written).
    @inline(__always)
    func f16(at offset: Int) -> Float {
        UnsafeRawPointer(self).f16(at: offset)
    }

    /// Sets the bits of `value` in the byte at `offset`.
    @inline(__always)
    func orByte(_ value: UInt8, at offset: Int) {
        storeByte(byte(at: offset) | value, at: offset)
    }

    /// Stores `value` as a little-endian binary16, rounding to nearest even (ggml `GGML_FP32_TO_FP16`).
    @inline(__always)
    func storeF16(_ value: Float, at offset: Int) {
        storeBytes(
            of: HalfPrecision.f16Bits(from: value).littleEndian, toByteOffset: offset,
            as: UInt16.self)
    }

    /// Stores `value` as a little-endian `UInt32`.
    @inline(__always)
    func storeU32(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// Stores one byte.
    @inline(__always)
    func storeByte(_ value: UInt8, at offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }
}
