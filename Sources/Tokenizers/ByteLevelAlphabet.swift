// SPDX-License-Identifier: Apache-2.0

/// The GPT-2 byte-level alphabet: a bijection between the 256 byte values and 256 printable Unicode scalars.
///
/// Same table as `bytes_to_unicode` in OpenAI's GPT-2 `encoder.py` and `bytes_char` in HF tokenizers'
/// `pre_tokenizers/byte_level.rs`: the printable bytes `!`…`~`, `¡`…`¬` and `®`…`ÿ` stand for themselves, the
/// 68 others map, in increasing byte order, to U+0100, U+0101, …. Vocabulary entries of byte-level BPE
/// tokenizers are written in this alphabet (a space is `Ġ`, a newline `Ċ`).
public enum ByteLevelAlphabet {
    /// The scalar standing for each byte value.
    public static let scalars: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next) ?? " "
                next += 1
            }
        }
        return table
    }()

    /// The byte a scalar stands for, or nil when the scalar is not in the alphabet.
    @inlinable
    public static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let value = scalar.value
        if value < 256 { return isPrintable(UInt8(value)) ? UInt8(value) : nil }
        guard value < 256 + 68 else { return nil }
        return nonPrintableBytes[Int(value - 256)]
    }

    /// The bytes a byte-level token stands for, or nil when a scalar is outside the alphabet.
    public static func bytes(of token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let byte = byte(for: scalar) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    /// The byte-level form of raw bytes.
    public static func string<Bytes: Sequence<UInt8>>(of bytes: Bytes) -> String {
        var view = String.UnicodeScalarView()
        for byte in bytes { view.append(scalars[Int(byte)]) }
        return String(view)
    }

    /// Whether a byte stands for itself.
    @usableFromInline
    static func isPrintable(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The non-printable bytes in increasing order; entry `i` is the byte written as U+0100 + `i`.
    @usableFromInline
    static let nonPrintableBytes: [UInt8] = (0...255).map(UInt8.init).filter { !isPrintable($0) }
}
