// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore

/// What a path on disk holds, decided from the file system and the first bytes, never the extension alone.
public enum CheckpointFormat: Equatable, Sendable {
    /// A directory with `config.json` and safetensors weights.
    case hfDirectory
    /// A single safetensors file.
    case safetensorsFile
    /// A GGUF file.
    case ggufFile

    /// Detects the format of an existing path.
    ///
    /// - Throws: ``CheckpointError/missingFile(path:)`` or ``CheckpointError/unrecognizedInput(path:)``.
    public static func detect(_ url: URL) throws(CheckpointError) -> CheckpointFormat {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw .missingFile(path: url.path)
        }
        if isDirectory.boolValue {
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path) else {
                throw .unrecognizedInput(path: url.path)
            }
            return .hfDirectory
        }
        guard let handle = try? FileHandle(forReadingFrom: url) else { throw .missingFile(path: url.path) }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 9)) ?? Data()
        if head.starts(with: Array("GGUF".utf8)) { return .ggufFile }
        if head.count >= 9, head[8] == UInt8(ascii: "{") { return .safetensorsFile }
        if url.pathExtension == "gguf" { return .ggufFile }  // let the GGUF reader explain what is wrong
        if url.pathExtension == "safetensors" { return .safetensorsFile }
        throw .unrecognizedInput(path: url.path)
    }

    /// The format an output path asks for: a `.gguf` file, or otherwise an HF directory.
    public static func forOutput(_ url: URL) -> CheckpointFormat {
        url.pathExtension.lowercased() == "gguf" ? .ggufFile : .hfDirectory
    }
}
