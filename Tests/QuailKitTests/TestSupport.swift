// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The repository's fixtures directory.
let fixturesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("fixtures")

/// A fresh temporary directory, removed when the returned object is released.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("quail-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Copies a fixture model directory into this directory and returns the copy.
    func copyFixture(_ name: String) throws -> URL {
        let copy = path(name)
        try FileManager.default.copyItem(at: fixturesDirectory.appendingPathComponent(name), to: copy)
        return copy
    }
}
