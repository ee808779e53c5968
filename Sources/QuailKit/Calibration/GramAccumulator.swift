// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra
import Transformer

/// Identifies one Gram matrix: the input of a group of linear layers in one block.
public struct GramKey: Hashable, Sendable, Comparable {
    /// Block index.
    public let layer: Int
    /// The linear layers that read the input.
    public let group: LinearGroup

    /// Creates a key.
    public init(layer: Int, group: LinearGroup) {
        self.layer = layer
        self.group = group
    }

    /// The tensor name in a statistics file: `model.layers.<layer>.<group>.gram`.
    public var tensorName: String { "model.layers.\(layer).\(group.statisticsName).gram" }

    public static func < (lhs: GramKey, rhs: GramKey) -> Bool {
        (lhs.layer, lhs.group.order) < (rhs.layer, rhs.group.order)
    }
}

extension LinearGroup {
    /// The group's name in statistics files and reports.
    public var statisticsName: String {
        switch self {
        case .attentionInput: "attention_input"
        case .attentionOutput: "attention_output"
        case .feedForwardInput: "feed_forward_input"
        case .feedForwardProduct: "feed_forward_product"
        }
    }

    /// Position in block order.
    var order: Int { LinearGroup.allCases.firstIndex(of: self) ?? 0 }
}

/// Sums `H = Σ xᵀx` in float64 over every token, for every linear input of the model (an ``ActivationObserving``
/// passed to the forward pass).
///
/// q/k/v share one Gram matrix, gate/up share one. A NaN or infinite activation is remembered (the first one)
/// and its rows are not added; ``requireFinite()`` reports it after the pass.
public final class GramAccumulator: ActivationObserving {
    /// The sums so far.
    public private(set) var grams: [GramKey: DoubleMatrix] = [:]
    /// Token rows added per Gram matrix (the same for all when every forward pass was observed).
    public private(set) var tokenCount = 0
    private var firstNonFinite: CalibrationError?

    /// OpenBLAS threads for the rank-k updates (the forward pass runs OpenBLAS single-threaded around them).
    public let threadCount: Int

    /// Creates an empty accumulator whose updates use `threads` OpenBLAS threads.
    public init(threads: Int = 1) { threadCount = max(1, threads) }

    public func observe(_ input: LinearInput) {
        if let index = input.values.firstIndex(where: { !$0.isFinite }) {
            if firstNonFinite == nil {
                firstNonFinite = .nonFiniteActivation(
                    layer: input.layer, input: input.group.moduleNames.joined(separator: "/"),
                    token: index / input.columns, feature: index % input.columns)
            }
            return
        }
        let key = GramKey(layer: input.layer, group: input.group)
        var h = grams.removeValue(forKey: key) ?? DoubleMatrix(zeros: input.columns, input.columns)
        let previous = BLAS.threadCount
        BLAS.setThreadCount(threadCount)
        BLAS.accumulateGram(input.values, rows: input.rows, columns: input.columns, into: &h)
        BLAS.setThreadCount(previous)
        grams[key] = h
        if key.layer == 0 && key.group == .attentionInput { tokenCount += input.rows }
    }

    /// Throws the first non-finite activation seen, if any.
    ///
    /// - Throws: ``CalibrationError/nonFiniteActivation(layer:input:token:feature:)``.
    public func requireFinite() throws(CalibrationError) {
        if let firstNonFinite { throw firstNonFinite }
    }
}
