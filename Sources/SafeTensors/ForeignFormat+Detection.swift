// SPDX-License-Identifier: Apache-2.0

extension ForeignFormat {
    /// Recognises a non-safetensors format from a file's first bytes, or returns nil.
    ///
    /// Consulted only after the header-length prefix failed validation, and only when that prefix could not be
    /// a header length at all: the file is shorter than 8 bytes, or the prefix is at least 2^32 (which every
    /// signature below produces). A truncated real safetensors file is therefore never misnamed.
    static func detect(in bytes: UnsafeRawBufferPointer) -> ForeignFormat? {
        let head = Array(bytes.prefix(512))
        guard head.count < 8 || head[4..<8].contains(where: { $0 != 0 }) else { return nil }
        if head.starts(with: Array("version https://git-lfs.github.com/spec/".utf8)) { return .gitLFSPointer }
        if head.starts(with: Array("GGUF".utf8)) { return .gguf }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return .zip }
        if head.count >= 2, head[0] == 0x80, (2...5).contains(head[1]) { return .pickle }
        // Text formats may start with a UTF-8 byte-order mark and whitespace.
        var text = head[...]
        if text.starts(with: [0xEF, 0xBB, 0xBF]) { text = text.dropFirst(3) }
        text = text.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let lowered = text.prefix(16).map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
        let startsWith = { (prefix: String) in lowered.starts(with: Array(prefix.utf8)) }
        if startsWith("<!doctype html") || startsWith("<html") || startsWith("<head") || startsWith("<body") {
            return .html
        }
        if startsWith("<?xml") { return .xml }
        if startsWith("{") || startsWith("[") { return .json }
        return nil
    }
}
