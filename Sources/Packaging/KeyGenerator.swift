// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Writes a new key pair for `quail sign` and `quail verify`.
public enum KeyGenerator {
    /// Generates an ECDSA key on `curve` and writes the private key (PKCS#8 PEM, mode 0600) and the public key
    /// (SubjectPublicKeyInfo PEM, mode 0644 less the umask), each atomically. Nothing is replaced unless
    /// `overwrite`; if the public key cannot be written, the new private key is removed again.
    ///
    /// - Returns: the key written, for reporting its hint.
    /// - Throws: ``PackagingError/outputExists(path:)`` or a file error.
    public static func writeKeyPair(
        privateKey privateURL: URL, publicKey publicURL: URL, curve: ECDSACurve = .p256, overwrite: Bool = false
    ) throws(PackagingError) -> SigningKey {
        for url in [privateURL, publicURL] where !overwrite && FileManager.default.fileExists(atPath: url.path) {
            throw .outputExists(path: url.path)
        }
        let key = SigningKey.generate(curve: curve)
        try AtomicFileWriter.write(Array(key.pkcs8PEM.utf8), to: privateURL, overwrite: overwrite, mode: 0o600)
        do {
            try AtomicFileWriter.write(
                Array(key.verificationKey.spkiPEM.utf8), to: publicURL, overwrite: overwrite, mode: 0o644)
        } catch {
            try? FileManager.default.removeItem(at: privateURL)
            throw error
        }
        return key
    }
}
