// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import Packaging
import QuailKit

struct SignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign every file of a directory with an ECDSA key (OpenSSF model-signing format).",
        discussion: """
            Hashes every regular file under DIR with SHA-256 (files in parallel), and writes a Sigstore bundle \
            with a DSSE-signed in-toto statement listing each file and its digest: the format `model_signing \
            sign key` writes, so `model_signing verify key` accepts it. The signature file and the top-level git \
            paths (.git, .gitattributes, .github, .gitignore) are left out and recorded in the statement. \
            Symbolic links and special files are errors. See formats/signature.md.
            """)

    @Argument(help: "Directory to sign.", completion: .directory)
    var directory: String

    @Option(help: "Private key (PEM: ECDSA P-256, P-384 or P-521, PKCS#8 or SEC1).", completion: .file())
    var key: String

    @Option(help: "Signature file to write (default: DIR/model.sig).", completion: .file())
    var signature: String?

    @Flag(help: "Replace an existing signature file.")
    var force = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let directoryURL = URL(fileURLWithPath: directory)
        let signatureURL = signature.map { URL(fileURLWithPath: $0) }
        let start = Date()
        let bar = TerminalProgress(label: "sign")
        let report: SigningReport
        do {
            let signingKey = try SigningKey(contentsOf: URL(fileURLWithPath: key))
            report = try BundleSigner.sign(
                directory: directoryURL, key: signingKey, signature: signatureURL, overwrite: force,
                progress: PackagingExitStatus.progress(bar))
            bar.finish()
        } catch {
            bar.finish()
            throw PackagingExitStatus.report(
                error, json: json, context: [("directory", .string(directoryURL.path))])
        }
        let seconds = Date().timeIntervalSince(start)
        if json {
            let fields: [(String, JSONValue)] = [
                ("ok", .bool(true)), ("directory", .string(report.directory)),
                ("signature", .string(report.signaturePath)),
                ("algorithm", .string("ECDSA \(report.curve.rawValue)")), ("hint", .string(report.keyHint)),
                ("root_digest", .string(report.manifest.rootDigestHex)),
                ("file_count", .integer(report.manifest.resources.count)), ("byte_count", .integer(report.byteCount)),
                ("ignore_paths", .array(report.manifest.ignorePaths.map { .string($0) })),
                ("seconds", .number(seconds)),
            ]
            print(JSONValue.object(fields).text(indent: 2))
        } else {
            print(
                "signed \(report.directory): \(report.manifest.resources.count) files, \(report.byteCount) bytes"
                    + " -> \(report.signaturePath)")
            print("ECDSA \(report.curve.rawValue), key hint \(report.keyHint)")
            print("ignored: \(report.manifest.ignorePaths.joined(separator: ", "))")
        }
    }
}
