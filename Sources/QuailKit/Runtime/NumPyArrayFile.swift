// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The bytes of a NumPy `.npy` file (format version 1.0) holding a little-endian float32 array in C order.
///
/// Layout (numpy `lib.format`): magic `\x93NUMPY`, version bytes 1 0, a little-endian u16 header length, then a
/// Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (…), }` padded with spaces and a final
/// newline so that the data starts at a multiple of 64 bytes, then the raw values.
enum NumPyArrayFile {
    static func data(float32 values: [Float], shape: [Int]) -> Data {
        precondition(shape.reduce(1, *) == values.count, "shape does not match the value count")
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }
}
