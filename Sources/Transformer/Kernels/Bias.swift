// SPDX-License-Identifier: Apache-2.0

/// `x[t] += bias` for every row `t` of `x` `(rows, bias.count)`, contiguous (the bias of PyTorch `nn.Linear`, added
/// after the product as transformers' Qwen2 q/k/v projections do).
func addBias(_ bias: [Float], to x: UnsafeMutablePointer<Float>, rows: Int, threads: Int) {
    let width = bias.count
    bias.withUnsafeBufferPointer { b in
        guard let b = b.baseAddress else { return }
        Parallel.forRanges(rows, threads: threads, grain: max(1, 65_536 / max(1, width))) { range in
            for t in range {
                let row = x + t * width
                for i in 0..<width { row[i] += b[i] }
            }
        }
    }
}
