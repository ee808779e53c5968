// SPDX-License-Identifier: Apache-2.0

/// Nearest-code lookup by midpoints, as bitsandbytes' torch-native backend does it.
///
/// Same as `_get_4bit_quantize_bounds` + `torch.bucketize(x, midpoints, right=False)` in
/// bitsandbytes `backends/default/ops.py` (and `quantize_blockwise` there, whose code is already sorted):
/// the codebook is argsorted, `midpoints[i] = (sorted[i] + sorted[i + 1]) / 2` in float32, the bucket of `x`
/// is the number of midpoints strictly below `x` (a value exactly on a midpoint takes the lower code), and
/// the bucket is mapped back through the sort order. Equal codes keep index order (torch's CPU sort of
/// 16 elements is an insertion sort); only FP4's two +0.0 entries (codes 0 and 8) are affected: values in
/// (midpoint below zero, 0] get code 0 and values in (0, midpoint above zero] get code 8.
struct BitsAndBytesCodeBuckets: Sendable {
    /// Float32 midpoints between neighbouring sorted codes.
    let midpoints: [Float]
    /// `order[bucket]` is the code index of the bucket's sorted code.
    let order: [UInt8]

    init(codebook: [Float]) {
        let order = codebook.indices.sorted { (codebook[$0], $0) < (codebook[$1], $1) }
        self.order = order.map { UInt8(truncatingIfNeeded: $0) }
        midpoints = (0..<(order.count - 1)).map { (codebook[order[$0]] + codebook[order[$0 + 1]]) / 2 }
    }

    /// The code of `x` (a finite value or a clamped scaled value).
    @inline(__always)
    func code(for x: Float) -> UInt8 {
        var low = 0
        var high = midpoints.count
        while low < high {  // lower bound: first midpoint >= x
            let mid = (low + high) >> 1
            if midpoints[mid] < x { low = mid + 1 } else { high = mid }
        }
        return order[low]
    }
}
