// SPDX-License-Identifier: Apache-2.0

/// Per-call state of ``Tokenizer/encode(_:addSpecialTokens:parseSpecialTokens:)``: output, BPE scratch space and
/// the cache of pieces already merged.
struct EncodingSession {
    var ids: [Int32] = []
    var workspace = BPEModel.Workspace()
    var pieceBytes: [UInt8] = []
    /// Piece bytes → range in `cachedIDs`.
    var cache: [[UInt8]: Range<Int>] = [:]
    var cachedIDs: [Int32] = []

    static let maxCachedPieceLength = 64
    static let maxCacheEntries = 1 << 16

    /// Encodes one pre-tokenized piece as UTF-8 and appends its tokens.
    mutating func appendPiece(_ piece: Slice<UnsafeBufferPointer<Unicode.Scalar>>, model: BPEModel) {
        pieceBytes.removeAll(keepingCapacity: true)
        for scalar in piece {
            let value = scalar.value
            if value < 0x80 {
                pieceBytes.append(UInt8(value))
            } else if value < 0x800 {
                pieceBytes.append(UInt8(0xC0 | value >> 6))
                pieceBytes.append(UInt8(0x80 | value & 0x3F))
            } else if value < 0x1_0000 {
                pieceBytes.append(UInt8(0xE0 | value >> 12))
                pieceBytes.append(UInt8(0x80 | value >> 6 & 0x3F))
                pieceBytes.append(UInt8(0x80 | value & 0x3F))
            } else {
                pieceBytes.append(UInt8(0xF0 | value >> 18))
                pieceBytes.append(UInt8(0x80 | value >> 12 & 0x3F))
                pieceBytes.append(UInt8(0x80 | value >> 6 & 0x3F))
                pieceBytes.append(UInt8(0x80 | value & 0x3F))
            }
        }
        let cacheable = pieceBytes.count <= Self.maxCachedPieceLength
        if cacheable, let cached = cache[pieceBytes] {
            ids += cachedIDs[cached]
            return
        }
        let start = ids.count
        model.encode(pieceBytes, into: &ids, workspace: &workspace)
        if cacheable && cache.count < Self.maxCacheEntries {
            let stored = cachedIDs.count
            cachedIDs += ids[start...]
            cache[pieceBytes] = stored..<cachedIDs.count
        }
    }
}
