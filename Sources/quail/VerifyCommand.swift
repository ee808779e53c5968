// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import Packaging
import QuailKit

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a signed directory offline against a public key; itemise every difference.",
        discussion: """
            Checks the signature file (a model_signing / Sigstore bundle, from quail sign or `model_signing sign \
            key`) with the public key, then re-hashes DIR and compares every file. On a mismatch it lists extra, \
            missing and changed files with expected and actual SHA-256 digests. Never writes to DIR. Exit \
            status: 0 verified, 1 verification failed, 2 unusable signature or key, 3 unusable directory or \
            unsigned, 64 usage error.
            """)

    @Argument(help: "Directory to verify.", completion: .directory)
    var directory: String

    @Option(help: "Public key (PEM SubjectPublicKeyInfo: ECDSA P-256, P-384 or P-521).", completion: .file())
    var key: String

    @Option(help: "Signature file (default: DIR/model.sig).", completion: .file())
    var signature: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let directoryURL = URL(fileURLWithPath: directory)
        let signatureURL =
            signature.map { URL(fileURLWithPath: $0) }
            ?? directoryURL.appendingPathComponent(BundleSigner.defaultSignatureName)
        let start = Date()
        let bar = TerminalProgress(label: "verify")
        let report: VerificationReport
        do {
            let publicKey = try VerificationKey(contentsOf: URL(fileURLWithPath: key))
            report = try BundleVerifier.verify(
                directory: directoryURL, key: publicKey, signature: signatureURL,
                progress: PackagingExitStatus.progress(bar))
            bar.finish()
        } catch {
            bar.finish()
            throw PackagingExitStatus.report(
                error, json: json,
                context: [("directory", .string(directoryURL.path)), ("signature", .string(signatureURL.path))])
        }
        let seconds = Date().timeIntervalSince(start)
        let difference = report.difference
        if json {
            print(Self.json(report, seconds: seconds).text(indent: 2))
        } else if report.isVerified {
            print(
                "verified \(report.directory): \(report.signed.resources.count) files, \(report.byteCount) bytes"
                    + " match \(report.signaturePath)")
            print(
                "ECDSA \(report.curve.rawValue) key"
                    + (report.hintChecked ? ", key hint matches" : " (the bundle has no key hint)"))
        } else {
            print(
                "verification FAILED for \(report.directory) against \(report.signaturePath): "
                    + "\(difference.changed.count) changed, \(difference.missing.count) missing, "
                    + "\(difference.extra.count) extra")
            for change in difference.changed {
                print("  changed  \(change.name)")
                print("           expected sha256 \(change.expectedHex)")
                print("           actual   sha256 \(change.actualHex)")
            }
            for file in difference.missing { print("  missing  \(file.name)  (signed sha256 \(file.hexDigest))") }
            for file in difference.extra { print("  extra    \(file.name)  (sha256 \(file.hexDigest), not signed)") }
        }
        guard report.isVerified else {
            FileHandle.standardError.write(
                Data("error: \(report.directory): files differ from the signature \(report.signaturePath)\n".utf8))
            throw ExitCode(PackagingExitStatus.verificationFailed)
        }
    }

    private static func json(_ report: VerificationReport, seconds: Double) -> JSONValue {
        let difference = report.difference
        let resource: (BundleManifest.Resource) -> JSONValue = {
            .object([("name", .string($0.name)), ("digest", .string($0.hexDigest))])
        }
        let fields: [(String, JSONValue)] = [
            ("ok", .bool(report.isVerified)),
            ("reason", .string(report.isVerified ? "verified" : "directory-mismatch")),
            ("directory", .string(report.directory)), ("signature", .string(report.signaturePath)),
            ("algorithm", .string("ECDSA \(report.curve.rawValue)")), ("hint_checked", .bool(report.hintChecked)),
            ("subject_name", .string(report.subjectName)), ("root_digest", .string(report.signed.rootDigestHex)),
            ("file_count", .integer(report.signed.resources.count)), ("byte_count", .integer(report.byteCount)),
            ("ignored_paths", .array(report.ignoredPaths.map { .string($0) })),
            ("extra", .array(difference.extra.map(resource))),
            ("missing", .array(difference.missing.map(resource))),
            (
                "changed",
                .array(
                    difference.changed.map {
                        .object([
                            ("name", .string($0.name)), ("expected", .string($0.expectedHex)),
                            ("actual", .string($0.actualHex)),
                        ])
                    })
            ),
            ("seconds", .number(seconds)),
        ]
        return .object(fields)
    }
}
