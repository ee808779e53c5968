// SPDX-License-Identifier: Apache-2.0
import Foundation

/// A float32 or float64 array in NumPy's `.npy` format, C order, little-endian.
///
/// The layout follows NumPy's format description (`numpy/lib/format.py`): the magic `\x93NUMPY`, a version
/// byte pair (1.0 with a 2-byte header length, 2.0/3.0 with a 4-byte one), then a Python dict literal with
/// exactly the keys `descr`, `fortran_order` and `shape`, then the raw elements. Quail reads `<f4` and
/// `<f8` with `fortran_order` False and writes version 1.0 with the header padded to 64 bytes, as NumPy does.
public struct NumpyArray: Equatable, Sendable {
    /// The element storage.
    public enum Storage: Equatable, Sendable {
        /// `<f4` elements.
        case float32([Float])
        /// `<f8` elements.
        case float64([Double])
    }

    /// Dimensions, outermost first.
    public let shape: [Int]
    /// The elements in C order.
    public let storage: Storage

    /// An array of `shape` (its element count must match the storage; traps otherwise).
    public init(shape: [Int], storage: Storage) {
        let count =
            switch storage {
            case .float32(let v): v.count
            case .float64(let v): v.count
            }
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == count, "array shape mismatch")
        self.shape = shape
        self.storage = storage
    }

    /// The elements as float32 (float64 elements are rounded to nearest).
    public var floatValues: [Float] {
        switch storage {
        case .float32(let v): v
        case .float64(let v): v.map { Float($0) }
        }
    }

    /// The elements as float64 (exact).
    public var doubleValues: [Double] {
        switch storage {
        case .float32(let v): v.map { Double($0) }
        case .float64(let v): v
        }
    }

    /// Reads a `.npy` file.
    ///
    /// - Throws: ``CheckpointError/missingFile(path:)`` or ``CheckpointError/invalidArrayFile(path:reason:)``
    ///   naming the broken rule (magic, version, header, dtype, order, shape, data length).
    public static func read(_ url: URL) throws(CheckpointError) -> NumpyArray {
        let path = url.path
        guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path: path) }
        return try decode([UInt8](data), path: path)
    }

    /// Parses the bytes of a `.npy` file; `path` is used in errors.
    static func decode(_ bytes: [UInt8], path: String) throws(CheckpointError) -> NumpyArray {
        func fail(_ reason: String) -> CheckpointError { .invalidArrayFile(path: path, reason: reason) }
        guard bytes.count >= 10, bytes[0..<6].elementsEqual([0x93] + Array("NUMPY".utf8)) else {
            throw fail("missing the \\x93NUMPY magic")
        }
        let major = bytes[6]
        let lengthBytes: Int
        switch major {
        case 1: lengthBytes = 2
        case 2, 3: lengthBytes = 4
        default: throw fail("unsupported format version \(major).\(bytes[7])")
        }
        guard bytes.count >= 8 + lengthBytes else { throw fail("truncated header length") }
        let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        let dataStart = 8 + lengthBytes + headerLength
        guard dataStart <= bytes.count else { throw fail("header length \(headerLength) exceeds the file") }
        guard let text = String(bytes: bytes[(8 + lengthBytes)..<dataStart], encoding: .utf8) else {
            throw fail("header is not UTF-8")
        }
        let header: NumpyHeader
        do { header = try NumpyHeader(parsing: text) } catch { throw fail(error.reason) }
        guard !header.fortranOrder else { throw fail("fortran_order True is not supported") }
        let itemSize: Int
        switch header.descr {
        case "<f4": itemSize = 4
        case "<f8": itemSize = 8
        default: throw fail("dtype \(header.descr) is not <f4 or <f8")
        }
        var count = 1
        for dimension in header.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw fail("shape \(header.shape) overflows") }
            count = product
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: itemSize)
        guard !overflow, bytes.count - dataStart == byteCount else {
            throw fail("data holds \(bytes.count - dataStart) bytes, shape \(header.shape) needs \(byteCount)")
        }
        let storage: Storage = bytes.withUnsafeBytes { raw in
            let payload = UnsafeRawBufferPointer(rebasing: raw[dataStart...])
            if itemSize == 4 {
                return .float32(
                    (0..<count).map {
                        Float(
                            bitPattern: UInt32(
                                littleEndian: payload.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                    })
            }
            return .float64(
                (0..<count).map {
                    Double(
                        bitPattern: UInt64(littleEndian: payload.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))
                    )
                })
        }
        return NumpyArray(shape: header.shape, storage: storage)
    }

    /// The `.npy` bytes (version 1.0).
    public func encoded() -> [UInt8] {
        let descr: String
        var payload: [UInt8] = []
        switch storage {
        case .float32(let v):
            descr = "<f4"
            payload.reserveCapacity(4 * v.count)
            for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
        case .float64(let v):
            descr = "<f8"
            payload.reserveCapacity(8 * v.count)
            for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
        }
        let dimensions =
            shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dimensions), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = header.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8)
            + payload
    }
}

/// The dict literal of a `.npy` header.
struct NumpyHeader {
    struct ParseError: Error { let reason: String }

    var descr = ""
    var fortranOrder = false
    var shape: [Int] = []

    /// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` (any spacing, optional trailing
    /// comma, trailing spaces and newline); every key exactly once, no other keys.
    init(parsing text: String) throws(ParseError) {
        var scanner = Substring(text)
        func skipSpace() { scanner = scanner.drop { $0 == " " || $0 == "\n" } }
        func expect(_ c: Character) throws(ParseError) {
            skipSpace()
            guard scanner.first == c else { throw ParseError(reason: "header: expected `\(c)`") }
            scanner = scanner.dropFirst()
        }
        func quoted() throws(ParseError) -> String {
            skipSpace()
            guard let quote = scanner.first, quote == "'" || quote == "\"" else {
                throw ParseError(reason: "header: expected a quoted string")
            }
            let body = scanner.dropFirst()
            guard let end = body.firstIndex(of: quote) else { throw ParseError(reason: "header: unterminated string") }
            scanner = body[body.index(after: end)...]
            return String(body[..<end])
        }
        try expect("{")
        var seen: Set<String> = []
        while true {
            skipSpace()
            if scanner.first == "}" { break }
            let key = try quoted()
            guard seen.insert(key).inserted else { throw ParseError(reason: "header: duplicate key \(key)") }
            try expect(":")
            skipSpace()
            switch key {
            case "descr": descr = try quoted()
            case "fortran_order":
                if scanner.hasPrefix("True") {
                    fortranOrder = true
                } else if !scanner.hasPrefix("False") {
                    throw ParseError(reason: "header: fortran_order must be True or False")
                }
                scanner = scanner.dropFirst(fortranOrder ? 4 : 5)
            case "shape":
                try expect("(")
                guard let close = scanner.firstIndex(of: ")") else {
                    throw ParseError(reason: "header: unterminated shape")
                }
                let items = scanner[..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                for item in items where !item.isEmpty {
                    guard let value = Int(item), value >= 0 else {
                        throw ParseError(reason: "header: bad dimension `\(item)`")
                    }
                    shape.append(value)
                }
                scanner = scanner[scanner.index(after: close)...]
            default: throw ParseError(reason: "header: unexpected key \(key)")
            }
            skipSpace()
            if scanner.first == "," { scanner = scanner.dropFirst() }
        }
        scanner = scanner.dropFirst()
        skipSpace()
        guard scanner.isEmpty else { throw ParseError(reason: "header: text after the dict") }
        guard seen == ["descr", "fortran_order", "shape"] else {
            throw ParseError(reason: "header: needs descr, fortran_order and shape")
        }
    }
}
