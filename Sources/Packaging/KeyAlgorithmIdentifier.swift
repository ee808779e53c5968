// SPDX-License-Identifier: Apache-2.0

/// The algorithm named inside a DER key (SubjectPublicKeyInfo, PKCS#8 or SEC1), read just far enough to pick
/// the right parser or to name an unsupported key in an error.
enum KeyAlgorithmIdentifier: Equatable, Sendable {
    /// An elliptic-curve key on the curve with this object identifier (DER content bytes).
    case ellipticCurve(curve: [UInt8])
    /// Any other algorithm (its object identifier's DER content bytes).
    case other([UInt8])

    // Object identifiers as DER content bytes (X.690 §8.19).
    static let idECPublicKey: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]  // 1.2.840.10045.2.1
    static let secp256r1: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]  // 1.2.840.10045.3.1.7
    static let secp384r1: [UInt8] = [0x2B, 0x81, 0x04, 0x00, 0x22]  // 1.3.132.0.34
    static let secp521r1: [UInt8] = [0x2B, 0x81, 0x04, 0x00, 0x23]  // 1.3.132.0.35

    private static let knownNames: [([UInt8], String)] = [
        ([0x2B, 0x81, 0x04, 0x00, 0x0A], "ECDSA secp256k1"),
        ([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01], "RSA"),
        ([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A], "RSA-PSS"),
        ([0x2B, 0x65, 0x70], "Ed25519"),
        ([0x2B, 0x65, 0x71], "Ed448"),
        ([0x2B, 0x65, 0x6E], "X25519"),
        ([0x2B, 0x65, 0x6F], "X448"),
        ([0x2A, 0x86, 0x48, 0xCE, 0x38, 0x04, 0x01], "DSA"),
    ]

    /// A human name such as `Ed25519` or `ECDSA secp256k1`, or the dotted object identifier.
    var name: String {
        switch self {
        case .ellipticCurve(let curve):
            if let known = Self.knownNames.first(where: { $0.0 == curve }) { return known.1 }
            return "elliptic curve \(Self.dotted(curve))"
        case .other(let oid):
            if let known = Self.knownNames.first(where: { $0.0 == oid }) { return known.1 }
            return "algorithm \(Self.dotted(oid))"
        }
    }

    /// The algorithm of a SubjectPublicKeyInfo: `SEQUENCE { SEQUENCE { OID, params }, BIT STRING }`.
    static func ofPublicKey(_ der: [UInt8]) -> KeyAlgorithmIdentifier? {
        var outer = DERCursor(der)
        guard var spki = outer.enter(tag: 0x30), var algorithm = spki.enter(tag: 0x30) else { return nil }
        return fromAlgorithmIdentifier(&algorithm)
    }

    /// The algorithm of a PKCS#8 PrivateKeyInfo (`SEQUENCE { INTEGER, SEQUENCE { OID, params }, … }`) or of a
    /// SEC1 ECPrivateKey (`SEQUENCE { INTEGER 1, OCTET STRING, [0] OID, … }`).
    static func ofPrivateKey(_ der: [UInt8], sec1: Bool) -> KeyAlgorithmIdentifier? {
        var outer = DERCursor(der)
        guard var key = outer.enter(tag: 0x30), key.read(tag: 0x02) != nil else { return nil }
        if sec1 {
            guard key.read(tag: 0x04) != nil, var parameters = key.enter(tag: 0xA0),
                let curve = parameters.read(tag: 0x06)
            else { return nil }
            return .ellipticCurve(curve: curve)
        }
        guard var algorithm = key.enter(tag: 0x30) else { return nil }
        return fromAlgorithmIdentifier(&algorithm)
    }

    private static func fromAlgorithmIdentifier(_ cursor: inout DERCursor) -> KeyAlgorithmIdentifier? {
        guard let oid = cursor.read(tag: 0x06) else { return nil }
        guard oid == idECPublicKey else { return .other(oid) }
        guard let curve = cursor.read(tag: 0x06) else { return nil }
        return .ellipticCurve(curve: curve)
    }

    /// Dotted-decimal text of an object identifier's content bytes.
    private static func dotted(_ oid: [UInt8]) -> String {
        guard let first = oid.first else { return "(empty)" }
        var arcs = [Int(first) / 40, Int(first) % 40]
        var value = 0
        for byte in oid.dropFirst() {
            value = value << 7 | Int(byte & 0x7F)
            if byte & 0x80 == 0 {
                arcs.append(value)
                value = 0
            }
            if value > Int(UInt32.max) { break }
        }
        return arcs.map(String.init).joined(separator: ".")
    }
}

/// A bounds-checked reader of DER tag-length-value items with single-byte tags.
struct DERCursor {
    private let bytes: ArraySlice<UInt8>
    private var index: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes[...]
        index = bytes.startIndex
    }

    private init(slice: ArraySlice<UInt8>) {
        bytes = slice
        index = slice.startIndex
    }

    /// The content of the next item if its tag is `tag`, advancing past it; nil otherwise or if truncated.
    mutating func read(tag: UInt8) -> [UInt8]? {
        guard let range = nextItem(tag: tag) else { return nil }
        index = range.upperBound
        return Array(bytes[range])
    }

    /// A cursor over the content of the next item if its tag is `tag`, advancing past it.
    mutating func enter(tag: UInt8) -> DERCursor? {
        guard let range = nextItem(tag: tag) else { return nil }
        index = range.upperBound
        return DERCursor(slice: bytes[range])
    }

    private func nextItem(tag: UInt8) -> Range<Int>? {
        var position = index
        guard position < bytes.endIndex, bytes[position] == tag else { return nil }
        position += 1
        guard position < bytes.endIndex else { return nil }
        let first = bytes[position]
        position += 1
        var length = 0
        if first < 0x80 {
            length = Int(first)
        } else {
            let count = Int(first & 0x7F)
            guard (1...4).contains(count), bytes.endIndex - position >= count else { return nil }
            for _ in 0..<count {
                length = length << 8 | Int(bytes[position])
                position += 1
            }
        }
        guard length <= bytes.endIndex - position else { return nil }
        return position..<(position + length)
    }
}
