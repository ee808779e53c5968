// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import Packaging
import QuailKit

/// Exit statuses of keygen, sign and verify (documented in their man pages).
enum PackagingExitStatus {
    /// The signature does not vouch for the files with this key: tampered files, wrong key, modified statement.
    static let verificationFailed: Int32 = 1
    /// The signature file or the key cannot be used: malformed, unsupported type or feature, unsafe path.
    static let unusableSignatureOrKey: Int32 = 2
    /// The directory or an input/output path cannot be used: unsigned, not a directory, link, unreadable, exists.
    static let unusableInput: Int32 = 3

    static func status(of error: PackagingError) -> Int32 {
        switch error.kind {
        case .verificationFailed: verificationFailed
        case .unusableSignatureOrKey: unusableSignatureOrKey
        case .unusableInput: unusableInput
        }
    }

    /// Prints `error` (as JSON on stdout when `json`, else on stderr) and returns the exit code to throw.
    static func report(_ error: PackagingError, json: Bool, context: [(String, JSONValue)]) -> ExitCode {
        if json {
            let fields: [(String, JSONValue)] =
                [("ok", .bool(false)), ("reason", .string(error.code)), ("message", .string(error.description))]
                + context
            print(JSONValue.object(fields).text(indent: 2))
        }
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        return ExitCode(status(of: error))
    }

    /// Byte progress drawn on a terminal under `label`.
    static func progress(_ bar: TerminalProgress) -> HashingProgress {
        { done, total in bar.update(completed: done >> 20, total: total >> 20, label: "MiB") }
    }
}
