// SPDX-License-Identifier: Apache-2.0
import Foundation
import LowRankInit

/// Writes a variant's solved adapter in its runtime's format.
enum AdapterFiles {
    /// Writes `updates` (stored factors, scale folded in) as a PEFT directory or a llama.cpp LoRA GGUF at `url`.
    static func write(
        _ updates: [LoRAAdapter.Update], runtime: BundleRuntime, recipe: InitRecipe,
        hyperparameters: LlamaHyperparameters, to url: URL
    ) throws {
        let contents = LoRAAdapterContents(
            factors: Dictionary(
                uniqueKeysWithValues: updates.map { ($0.weightName, LowRankFactors(a: $0.a, b: $0.b)) }),
            rank: recipe.solver.rank, alpha: recipe.alpha, scaling: recipe.scaling)
        switch runtime {
        case .gguf:
            try LlamaCppAdapterWriter.write(
                contents, to: url, for: hyperparameters, name: "quail \(recipe.method.rawValue)")
        default:
            try PEFTAdapterWriter.write(contents, to: url, for: hyperparameters, baseModel: nil)
        }
    }
}
