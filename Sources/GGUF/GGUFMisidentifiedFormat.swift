// SPDX-License-Identifier: Apache-2.0

/// A kind of file that is commonly passed where a GGUF file was expected, recognised by its first bytes.
public enum GGUFMisidentifiedFormat: Sendable, Equatable, CustomStringConvertible {
    /// A Git LFS pointer (`version https://git-lfs...`): the repository was cloned without `git lfs pull`.
    case gitLFSPointer
    /// An HTML or XML page, typically a login or error page saved by a download.
    case html
    /// A safetensors file (u64 header length followed by `{`).
    case safetensors
    /// A zip archive, such as a PyTorch `.bin` / `.pt` checkpoint.
    case zipArchive
    /// A pre-GGUF ggml file (`ggml`, `ggmf` or `ggjt` magic), which needs converting first.
    case legacyGGML

    /// Recognises `bytes` (the start of a file), or returns nil.
    init?(prefix bytes: UnsafeRawBufferPointer) {
        let head = Array(bytes.prefix(64))
        func starts(with text: String) -> Bool { head.starts(with: Array(text.utf8)) }
        // Markup may follow a UTF-8 byte-order mark and whitespace.
        let skipped: Set<UInt8> = [0xEF, 0xBB, 0xBF, 0x20, 0x09, 0x0A, 0x0D]
        let markup = String(decoding: head.drop { skipped.contains($0) }.prefix(14), as: UTF8.self)
            .lowercased()
        if starts(with: "version https://git-lfs") {
            self = .gitLFSPointer
        } else if ["<!doctype html", "<html", "<?xml"].contains(where: { markup.hasPrefix($0) }) {
            self = .html
        } else if starts(with: "PK\u{03}\u{04}") {
            self = .zipArchive
        } else if ["lmgg", "fmgg", "tjgg"].contains(where: starts(with:)) {
            self = .legacyGGML
        } else if head.count >= 10, head[8] == UInt8(ascii: "{"),
            head[9] == UInt8(ascii: "\"") || head[9] == UInt8(ascii: "}")
        {
            self = .safetensors
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .gitLFSPointer: "a git lfs pointer file (run `git lfs pull` to fetch the real file)"
        case .html: "an html/xml page (the download saved a web page, not the model)"
        case .safetensors: "a safetensors file"
        case .zipArchive: "a zip archive (a pytorch checkpoint?)"
        case .legacyGGML: "a pre-gguf ggml/ggjt file (convert it to gguf first)"
        }
    }
}
