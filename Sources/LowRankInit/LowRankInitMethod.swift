// SPDX-License-Identifier: Apache-2.0

/// A way to choose the LoRA factors of one layer (see formats/lora-init.md).
public enum LowRankInitMethod: String, CaseIterable, Sendable {
    /// Plain QLoRA: the product is zero (both factors are returned as zeros).
    case zero
    /// The uncalibrated optimum: truncated SVD of `W − Q`, singular values split as square roots.
    case svd
    /// LoftQ as PEFT's `loftq_init` does it: alternate `Q_t = quant(W − B·A)` and the SVD of `W − Q_t`;
    /// it replaces the quantized base.
    case loftq
    /// QuAILoRA: from the SVD start, alternating exact minimisations of the damped calibrated objective,
    /// run as QR-orthonormalised subspace iteration.
    case quailora
    /// The closed-form minimiser of the damped calibrated objective (top-r subspace of `(W − Q)·L`,
    /// `H + λI = L·Lᵀ`).
    case exact
}
