// SPDX-License-Identifier: Apache-2.0

/// A failure reported by a LAPACK routine.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
    /// LAPACK routine `routine` returned a non-zero `info`.
    case lapackFailure(routine: String, info: Int32)

    public var description: String {
        switch self {
        case .lapackFailure(let routine, let info):
            info > 0
                ? "\(routine) failed: leading minor \(info) is not positive definite or did not converge"
                : "\(routine) failed: argument \(-info) is invalid"
        }
    }
}
