// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// Runs a block kernel over a whole buffer, in parallel chunks of whole blocks when the buffer is large.
enum BlockRunner {
    /// Roughly how many elements one chunk covers; smaller buffers run on the calling thread.
    static let elementsPerChunk = 1 << 16

    /// Splits `blockCount` blocks of `blockSize` elements into chunks and calls `body(chunk, blocks)` for each,
    /// on up to `ParallelWork.workerLimit` threads; returns the number of chunks.
    @discardableResult
    static func forEachChunk(
        blockCount: Int, blockSize: Int,
        _ body: @Sendable (_ chunk: Int, _ blocks: Range<Int>) -> Void
    ) -> Int {
        let blocksPerChunk = max(1, elementsPerChunk / blockSize)
        let chunks = (blockCount + blocksPerChunk - 1) / blocksPerChunk
        ParallelWork.forEach(chunks) { chunk in
            let start = chunk * blocksPerChunk
            body(chunk, start..<min(blockCount, start + blocksPerChunk))
        }
        return chunks
    }

    /// Expands `blockCount` blocks of format `F` from `source` into `destination`.
    static func dequantize<F: GGMLBlockDecoding>(
        _ format: F.Type, _ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>,
        blockCount: Int
    ) {
        assert(F.matchesTypeTable, "\(F.self) disagrees with GGMLType's geometry")
        // Chunks write disjoint ranges of the destination.
        nonisolated(unsafe) let source = source
        nonisolated(unsafe) let destination = destination
        forEachChunk(blockCount: blockCount, blockSize: F.blockSize) { _, blocks in
            var input = source + blocks.lowerBound * F.typeSize
            var output = destination + blocks.lowerBound * F.blockSize
            for _ in blocks {
                F.dequantize(block: input, into: output)
                input += F.typeSize
                output += F.blockSize
            }
        }
    }

    /// Encodes `blockCount` blocks of format `F`; returns the index of the first non-finite input element when
    /// `F` requires finite input and one is found (the output is then incomplete).
    static func quantize<F: GGMLBlockEncoding>(
        _ format: F.Type, _ source: UnsafePointer<Float>, into destination: UnsafeMutableRawPointer,
        blockCount: Int
    ) -> Int? {
        assert(F.matchesTypeTable, "\(F.self) disagrees with GGMLType's geometry")
        let blocksPerChunk = max(1, elementsPerChunk / F.blockSize)
        let chunkCount = (blockCount + blocksPerChunk - 1) / blocksPerChunk
        var firstBad = [Int](repeating: Int.max, count: chunkCount)
        // Chunks write disjoint ranges of the destination and one slot each of `firstBad`.
        nonisolated(unsafe) let source = source
        nonisolated(unsafe) let destination = destination
        firstBad.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let firstBad = slots
            _ = forEachChunk(blockCount: blockCount, blockSize: F.blockSize) { chunk, blocks in
                let input = source + blocks.lowerBound * F.blockSize
                if F.requiresFiniteInput {
                    let count = blocks.count * F.blockSize
                    if let bad = firstNonFinite(input, count: count) {
                        firstBad[chunk] = blocks.lowerBound * F.blockSize + bad
                        return
                    }
                }
                var output = destination + blocks.lowerBound * F.typeSize
                for block in 0..<blocks.count {
                    F.quantize(block: input + block * F.blockSize, into: output)
                    output += F.typeSize
                }
            }
        }
        let bad = firstBad.min() ?? Int.max
        return bad == Int.max ? nil : bad
    }

    /// Index of the first NaN or infinity among `count` floats, or nil (a branch-free scan first, then a search).
    static func firstNonFinite(_ values: UnsafePointer<Float>, count: Int) -> Int? {
        var flags: UInt32 = 0
        for i in 0..<count {
            // Exponent field all ones (inf/NaN) carries into the sign bit.
            flags |= ((values[i].bitPattern & 0x7F80_0000) &+ 0x0080_0000) & 0x8000_0000
        }
        guard flags != 0 else { return nil }
        return (0..<count).first { !values[$0].isFinite }
    }
}
