// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import Transformer

/// A kind of linear layer in a llama block that a LoRA adapter can target.
public enum AdapterTarget: String, CaseIterable, Sendable, Comparable {
    case q, k, v, o, gate, up, down

    /// The HF module name under `model.layers.N.` (`self_attn.q_proj`).
    public var moduleName: String {
        switch self {
        case .q: "self_attn.q_proj"
        case .k: "self_attn.k_proj"
        case .v: "self_attn.v_proj"
        case .o: "self_attn.o_proj"
        case .gate: "mlp.gate_proj"
        case .up: "mlp.up_proj"
        case .down: "mlp.down_proj"
        }
    }

    /// PEFT's `target_modules` entry (`q_proj`).
    public var peftName: String { String(moduleName.split(separator: ".").last ?? "") }

    /// The input the layer reads (the Gram matrix it is solved against).
    public var group: LinearGroup {
        switch self {
        case .q, .k, .v: .attentionInput
        case .o: .attentionOutput
        case .gate, .up: .feedForwardInput
        case .down: .feedForwardProduct
        }
    }

    /// The layer's weight in a decoded block.
    public func weight(in layer: LlamaLayerWeights) -> Matrix {
        switch self {
        case .q: layer.query
        case .k: layer.key
        case .v: layer.value
        case .o: layer.attentionOutput
        case .gate: layer.gate
        case .up: layer.up
        case .down: layer.down
        }
    }

    /// The layer's tensor role (its shape is ``LlamaTensorNames/expectedShape(of:for:)``).
    public var role: LlamaTensorNames.Role {
        switch self {
        case .q: .query
        case .k: .key
        case .v: .value
        case .o: .attentionOutput
        case .gate: .gate
        case .up: .up
        case .down: .down
        }
    }

    public static func < (lhs: AdapterTarget, rhs: AdapterTarget) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }

    /// Parses a comma-separated list of `q,k,v,o,gate,up,down` (PEFT names such as `q_proj` are accepted too),
    /// or `all`.
    ///
    /// - Throws: ``InitError/unknownTargets(_:)`` listing every name that matches no layer.
    public static func parseList(_ text: String) throws(InitError) -> [AdapterTarget] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if names == ["all"] || names == ["all-linear"] { return allCases }
        var found: Set<AdapterTarget> = []
        var unknown: [String] = []
        for name in names {
            if let target = allCases.first(where: { $0.rawValue == name || $0.peftName == name }) {
                found.insert(target)
            } else {
                unknown.append(name)
            }
        }
        guard unknown.isEmpty, !found.isEmpty else { throw .unknownTargets(unknown.isEmpty ? [text] : unknown) }
        return found.sorted()
    }
}
