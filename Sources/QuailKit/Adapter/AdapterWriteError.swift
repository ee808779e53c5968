// SPDX-License-Identifier: Apache-2.0

/// Why a LoRA adapter could not be written; every case names the destination.
public enum AdapterWriteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The adapter adapts no linear.
    case emptyAdapter(path: String)
    /// The rank is not a positive integer.
    case invalidRank(path: String, rank: Int)
    /// `lora_alpha` is not positive and finite, or with the rank gives no usable scale.
    case invalidAlpha(path: String, alpha: Double)
    /// A factor pair targets a weight that is not a block linear of the model.
    case unknownTarget(path: String, tensor: String)
    /// A factor pair's rank differs from the adapter's rank.
    case rankMismatch(path: String, tensor: String, expected: Int, actual: Int)
    /// A factor pair's `[out, in]` differs from the shape of the weight it adapts.
    case shapeMismatch(path: String, tensor: String, expected: [Int], actual: [Int])
    /// A factor holds a NaN or an infinity at row-major element `index`.
    case nonFiniteValue(path: String, tensor: String, factor: String, index: Int)
    /// The model's hyperparameters cannot place the q/k rows of llama.cpp's permutation.
    case unpermutableRows(path: String, tensor: String, rows: Int, heads: Int)
    /// The container writer or the file system failed.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .emptyAdapter(let path): "\(path): the adapter adapts no linear"
        case .invalidRank(let path, let rank): "\(path): LoRA rank \(rank) must be a positive integer"
        case .invalidAlpha(let path, let alpha): "\(path): lora_alpha \(alpha) must be positive and finite"
        case .unknownTarget(let path, let tensor):
            "\(path): `\(tensor)` is not a q/k/v/o/gate/up/down linear of the model's blocks"
        case .rankMismatch(let path, let tensor, let expected, let actual):
            "\(path): factors of `\(tensor)` have rank \(actual), the adapter's rank is \(expected)"
        case .shapeMismatch(let path, let tensor, let expected, let actual):
            "\(path): factors of `\(tensor)` give shape \(actual), the weight is \(expected)"
        case .nonFiniteValue(let path, let tensor, let factor, let index):
            "\(path): \(factor) of `\(tensor)` holds a NaN or infinity at element \(index)"
        case .unpermutableRows(let path, let tensor, let rows, let heads):
            "\(path): `\(tensor)` has \(rows) rows, which do not split into \(heads) heads of even size"
        case .writeFailed(let path, let reason): "\(path): cannot write the adapter: \(reason)"
        }
    }
}
