// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// huggingface_hub's sharding conventions: how tensors are split, how shards are named, how the index looks.
enum ShardPlan {
    /// Splits entries (given by byte count, in order) into shards of entry indices, exactly as huggingface_hub's
    /// `split_state_dict_into_shards_factory` does: greedy in order; an entry larger than the maximum becomes its
    /// own shard immediately (so it precedes the shard still being filled). No entries give no shards.
    static func split(byteCounts: [Int], maxShardByteCount: Int) -> [[Int]] {
        var shards: [[Int]] = []
        var current: [Int] = []
        var currentSize = 0
        for (index, size) in byteCounts.enumerated() {
            if size > maxShardByteCount {
                shards.append([index])
                continue
            }
            if size > maxShardByteCount - currentSize {
                shards.append(current)
                current = []
                currentSize = 0
            }
            current.append(index)
            currentSize += size
        }
        if !current.isEmpty { shards.append(current) }
        return shards
    }

    /// `<baseName>-<number>-of-<count>.safetensors` with both numbers zero-padded to at least five digits.
    static func shardFileName(baseName: String, number: Int, of count: Int) -> String {
        "\(baseName)-\(zeroPadded(number))-of-\(zeroPadded(count)).safetensors"
    }

    private static func zeroPadded(_ value: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    /// The index file's bytes, formatted like Python's `json.dump(index, f, indent=2)` with its default
    /// `ensure_ascii=True`: two-space indentation, `": "` between key and value, no trailing newline.
    static func indexJSON(totalSize: Int, weightMap: [(tensor: String, shard: String)]) -> [UInt8] {
        var out = Array("{\n  \"metadata\": {\n    \"total_size\": ".utf8)
        JSONText.appendInteger(totalSize, to: &out)
        out.append(contentsOf: Array("\n  },\n  \"weight_map\": {".utf8))
        for (position, entry) in weightMap.enumerated() {
            out.append(contentsOf: Array((position == 0 ? "\n    " : ",\n    ").utf8))
            JSONText.appendString(entry.tensor, to: &out, asciiOnly: true)
            out.append(contentsOf: Array(": ".utf8))
            JSONText.appendString(entry.shard, to: &out, asciiOnly: true)
        }
        out.append(contentsOf: Array((weightMap.isEmpty ? "}\n}" : "\n  }\n}").utf8))
        return out
    }
}
