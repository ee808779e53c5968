// SPDX-License-Identifier: Apache-2.0

/// The byte-level BPE model: byte tokens, ranked merges, and the merge loop.
///
/// The merge loop is the one of HF tokenizers' `Word::merge_all` (models/bpe/word.rs): the adjacent pair with the
/// lowest merge rank is merged first, the leftmost one among equal ranks, until no adjacent pair has a merge. It
/// runs on token ids over a linked list of symbols with a min-heap of (rank, position) entries; an entry whose
/// pair has changed since it was pushed is skipped.
struct BPEModel: Sendable {
    /// The token of each byte (the token whose text is that byte's scalar in ``ByteLevelAlphabet``), or -1.
    let byteTokens: [Int32]
    /// The token standing for a byte without a token, or nil to drop such bytes (HF `unk_token`).
    let unknownToken: Int32?
    /// Whether consecutive bytes without a token share one unknown token (HF `fuse_unk`).
    let fuseUnknown: Bool
    /// `left << 32 | right` → `rank << 32 | merged`.
    let merges: [UInt64: UInt64]
    /// Whole-piece lookup by raw bytes, when `ignore_merges` is set (tokenizers' `BPE::tokenize_with_cache`).
    let wholePieces: [[UInt8]: Int32]?

    /// - Parameters:
    ///   - vocabulary: id by byte-level token text.
    ///   - merges: `"left right"` strings, highest priority first.
    ///   - ignoreMerges: whether a piece that is itself a token is emitted whole before merging.
    ///   - unknownToken: the token for bytes the vocabulary lacks, or nil to drop them.
    ///   - fuseUnknown: whether a run of such bytes gives one unknown token.
    init(
        vocabulary: [String: Int32], merges: [String], ignoreMerges: Bool, unknownToken: Int32?, fuseUnknown: Bool
    ) throws(TokenizerError) {
        byteTokens = (0..<256).map { vocabulary[String(ByteLevelAlphabet.scalars[$0])] ?? -1 }
        self.unknownToken = unknownToken
        self.fuseUnknown = fuseUnknown
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw .malformedMerge(rank: rank, merge: merge) }
            let left = String(parts[0]), right = String(parts[1])
            guard let leftID = vocabulary[left] else { throw .mergeTokenNotInVocabulary(rank: rank, token: left) }
            guard let rightID = vocabulary[right] else { throw .mergeTokenNotInVocabulary(rank: rank, token: right) }
            guard let mergedID = vocabulary[left + right] else {
                throw .mergeTokenNotInVocabulary(rank: rank, token: left + right)
            }
            table[Self.pairKey(leftID, rightID)] = UInt64(rank) << 32 | UInt64(UInt32(mergedID))
        }
        self.merges = table
        if ignoreMerges {
            var whole: [[UInt8]: Int32] = [:]
            for (token, id) in vocabulary {
                if let bytes = ByteLevelAlphabet.bytes(of: token) { whole[bytes] = id }
            }
            wholePieces = whole
        } else {
            wholePieces = nil
        }
    }

    @inline(__always)
    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))
    }

    /// Scratch arrays for ``encode(_:into:workspace:)``.
    struct Workspace {
        var symbols: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var heap = MinHeap()
    }

    /// Appends the tokens of one pre-tokenized piece (raw UTF-8 bytes) to `ids`.
    ///
    /// A byte without a token becomes ``unknownToken`` or is dropped, as in HF tokenizers' `BPE::merge_word`
    /// (the bytes on either side then become neighbours for merging).
    func encode(_ bytes: [UInt8], into ids: inout [Int32], workspace: inout Workspace) {
        if let wholePieces, let id = wholePieces[bytes] {
            ids.append(id)
            return
        }
        workspace.symbols.removeAll(keepingCapacity: true)
        var lastWasUnknown = false
        for byte in bytes {
            let id = byteTokens[Int(byte)]
            if id >= 0 {
                workspace.symbols.append(id)
                lastWasUnknown = false
            } else if let unknownToken, !(fuseUnknown && lastWasUnknown) {
                workspace.symbols.append(unknownToken)
                lastWasUnknown = true
            }
        }
        let count = workspace.symbols.count
        guard count > 1 else {
            ids += workspace.symbols
            return
        }
        workspace.previous.removeAll(keepingCapacity: true)
        workspace.next.removeAll(keepingCapacity: true)
        workspace.heap.removeAll()
        for index in 0..<count {
            workspace.previous.append(Int32(index - 1))
            workspace.next.append(index + 1 < count ? Int32(index + 1) : -1)
        }
        for index in 0..<count - 1 {
            if let merge = merges[Self.pairKey(workspace.symbols[index], workspace.symbols[index + 1])] {
                workspace.heap.push(merge & ~0xFFFF_FFFF | UInt64(index))
            }
        }
        while let entry = workspace.heap.popMin() {
            let position = Int(entry & 0xFFFF_FFFF)
            let rank = entry >> 32
            let right = Int(workspace.next[position])
            // Removed symbols have no successor and a symbol id of -1.
            guard right >= 0, workspace.symbols[position] >= 0,
                let merge = merges[Self.pairKey(workspace.symbols[position], workspace.symbols[right])],
                merge >> 32 == rank
            else { continue }
            workspace.symbols[position] = Int32(truncatingIfNeeded: merge & 0xFFFF_FFFF)
            workspace.symbols[right] = -1
            let after = workspace.next[right]
            workspace.next[position] = after
            workspace.next[right] = -1
            if after >= 0 { workspace.previous[Int(after)] = Int32(position) }
            let before = workspace.previous[position]
            if before >= 0,
                let merge = merges[Self.pairKey(workspace.symbols[Int(before)], workspace.symbols[position])]
            {
                workspace.heap.push(merge & ~0xFFFF_FFFF | UInt64(before))
            }
            if after >= 0,
                let merge = merges[Self.pairKey(workspace.symbols[position], workspace.symbols[Int(after)])]
            {
                workspace.heap.push(merge & ~0xFFFF_FFFF | UInt64(position))
            }
        }
        var index = 0
        while index >= 0 {
            ids.append(workspace.symbols[index])
            index = Int(workspace.next[index])
        }
    }
}
