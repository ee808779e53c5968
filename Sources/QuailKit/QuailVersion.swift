// SPDX-License-Identifier: Apache-2.0

/// The version of Quail recorded in outputs and printed by `quail --version`.
public enum QuailVersion {
    /// Semantic version string.
    public static let string = "0.1.0"
}
