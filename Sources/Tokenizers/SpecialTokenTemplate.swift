// SPDX-License-Identifier: Apache-2.0

/// The tokens put around an encoded text when special tokens are added: the checkpoint's BOS/EOS policy
/// (HF `TemplateProcessing` for a single sequence, or GGUF `tokenizer.ggml.add_bos_token` / `add_eos_token`).
public struct SpecialTokenTemplate: Equatable, Sendable {
    /// Ids placed before the text (typically BOS).
    public var prefix: [Int]
    /// Ids placed after the text (typically EOS).
    public var suffix: [Int]

    /// Creates a template.
    public init(prefix: [Int] = [], suffix: [Int] = []) {
        self.prefix = prefix
        self.suffix = suffix
    }

    /// Adds nothing.
    public static let none = SpecialTokenTemplate()
}

/// The Unicode normalization applied to text between added tokens, before pre-tokenization.
public enum Normalization: Equatable, Sendable {
    /// Text is used as given.
    case none
    /// Canonical composition (HF `NFC` normalizer, used by Qwen2).
    case nfc
}
