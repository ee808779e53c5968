// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import Packaging
import QuailKit

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Generate an ECDSA P-256 key pair for quail sign and quail verify.",
        discussion: """
            Writes the private key as unencrypted PKCS#8 PEM with mode 0600 and the public key as \
            SubjectPublicKeyInfo PEM. Both load in OpenSSL, Python cryptography and model_signing. Existing \
            files are kept unless --force is given.
            """)

    @Option(name: .customLong("private"), help: "Where to write the private key (PEM, mode 0600).", completion: .file())
    var privateKey: String

    @Option(name: .customLong("public"), help: "Where to write the public key (PEM).", completion: .file())
    var publicKey: String

    @Flag(help: "Replace existing key files.")
    var force = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        let paths = [privateKey, publicKey].map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        guard paths[0] != paths[1] else { throw ValidationError("--private and --public must be different files") }
    }

    func run() throws {
        let privateURL = URL(fileURLWithPath: privateKey)
        let publicURL = URL(fileURLWithPath: publicKey)
        let key: SigningKey
        do {
            key = try KeyGenerator.writeKeyPair(privateKey: privateURL, publicKey: publicURL, overwrite: force)
        } catch {
            throw PackagingExitStatus.report(error, json: json, context: [])
        }
        let hint = key.verificationKey.hint
        if json {
            let fields: [(String, JSONValue)] = [
                ("ok", .bool(true)), ("private_key", .string(privateURL.path)),
                ("public_key", .string(publicURL.path)), ("algorithm", .string("ECDSA \(key.curve.rawValue)")),
                ("hint", .string(hint)),
            ]
            print(JSONValue.object(fields).text(indent: 2))
        } else {
            print("wrote \(privateURL.path) (private, mode 0600) and \(publicURL.path) (public)")
            print("ECDSA \(key.curve.rawValue), key hint \(hint)")
        }
    }
}
