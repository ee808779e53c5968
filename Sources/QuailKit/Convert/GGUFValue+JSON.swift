// SPDX-License-Identifier: Apache-2.0
import GGUF

/// JSON form of typed GGUF values, used by the GGUF sidecar file: `{"type": "UINT32", "value": 30}`,
/// arrays as `{"type": "ARRAY", "element_type": "STRING", "value": [...]}`.
extension GGUFValue {
    var jsonRepresentation: JSONValue {
        if case .array(let array) = self {
            return .object([
                ("type", .string("ARRAY")), ("element_type", .string(array.elementType.name)),
                ("value", .array(array.jsonElements)),
            ])
        }
        return .object([("type", .string(type.name)), ("value", scalarJSON)])
    }

    private var scalarJSON: JSONValue {
        switch self {
        case .uint8(let v): .integer(Int(v))
        case .int8(let v): .integer(Int(v))
        case .uint16(let v): .integer(Int(v))
        case .int16(let v): .integer(Int(v))
        case .uint32(let v): .integer(Int(v))
        case .int32(let v): .integer(Int(v))
        case .uint64(let v): v <= UInt64(Int.max) ? .integer(Int(v)) : .string(String(v))
        case .int64(let v): .integer(Int(v))
        case .float32(let v): .number(LlamaHyperparameters.shortestDouble(v))
        case .float64(let v): .number(v)
        case .bool(let v): .bool(v)
        case .string(let v): .string(v)
        case .array: .null
        }
    }

    /// Reads the JSON form back.
    ///
    /// - Throws: ``CheckpointError/invalidField(path:key:expected:)`` when the type or value does not fit.
    init(json: JSONValue, path: String, key: String) throws(CheckpointError) {
        let bad = CheckpointError.invalidField(path: path, key: key, expected: "a typed GGUF value")
        guard let typeName = json["type"]?.stringValue, let value = json["value"] else { throw bad }
        if typeName == "ARRAY" {
            guard let elementName = json["element_type"]?.stringValue, let items = value.arrayValue,
                let array = GGUFArray(elementTypeName: elementName, json: items)
            else { throw bad }
            self = .array(array)
            return
        }
        guard let scalar = GGUFValue(typeName: typeName, json: value) else { throw bad }
        self = scalar
    }

    fileprivate init?(typeName: String, json: JSONValue) {
        func int<T: FixedWidthInteger>(_: T.Type) -> T? {
            if let text = json.stringValue { return T(text) }
            return json.intValue.flatMap { T(exactly: $0) }
        }
        switch typeName {
        case "UINT8": guard let v = int(UInt8.self) else { return nil }; self = .uint8(v)
        case "INT8": guard let v = int(Int8.self) else { return nil }; self = .int8(v)
        case "UINT16": guard let v = int(UInt16.self) else { return nil }; self = .uint16(v)
        case "INT16": guard let v = int(Int16.self) else { return nil }; self = .int16(v)
        case "UINT32": guard let v = int(UInt32.self) else { return nil }; self = .uint32(v)
        case "INT32": guard let v = int(Int32.self) else { return nil }; self = .int32(v)
        case "UINT64": guard let v = int(UInt64.self) else { return nil }; self = .uint64(v)
        case "INT64": guard let v = int(Int64.self) else { return nil }; self = .int64(v)
        case "FLOAT32": guard let v = json.doubleValue else { return nil }; self = .float32(Float(v))
        case "FLOAT64": guard let v = json.doubleValue else { return nil }; self = .float64(v)
        case "BOOL": guard let v = json.boolValue else { return nil }; self = .bool(v)
        case "STRING": guard let v = json.stringValue else { return nil }; self = .string(v)
        default: return nil
        }
    }
}

extension GGUFArray {
    fileprivate var jsonElements: [JSONValue] {
        switch self {
        case .uint8(let a): a.map { .integer(Int($0)) }
        case .int8(let a): a.map { .integer(Int($0)) }
        case .uint16(let a): a.map { .integer(Int($0)) }
        case .int16(let a): a.map { .integer(Int($0)) }
        case .uint32(let a): a.map { .integer(Int($0)) }
        case .int32(let a): a.map { .integer(Int($0)) }
        case .uint64(let a): a.map { GGUFValue.uint64($0).jsonRepresentation["value"] ?? .null }
        case .int64(let a): a.map { .integer(Int($0)) }
        case .float32(let a): a.map { .number(LlamaHyperparameters.shortestDouble($0)) }
        case .float64(let a): a.map { .number($0) }
        case .bool(let a): a.map { .bool($0) }
        case .string(let a): a.map { .string($0) }
        }
    }

    fileprivate init?(elementTypeName: String, json: [JSONValue]) {
        var scalars: [GGUFValue] = []
        scalars.reserveCapacity(json.count)
        for item in json {
            guard let scalar = GGUFValue(typeName: elementTypeName, json: item) else { return nil }
            scalars.append(scalar)
        }
        func collect<T>(_ extract: (GGUFValue) -> T?) -> [T] { scalars.compactMap(extract) }
        switch elementTypeName {
        case "UINT8": self = .uint8(collect { if case .uint8(let v) = $0 { v } else { nil } })
        case "INT8": self = .int8(collect { if case .int8(let v) = $0 { v } else { nil } })
        case "UINT16": self = .uint16(collect { if case .uint16(let v) = $0 { v } else { nil } })
        case "INT16": self = .int16(collect { if case .int16(let v) = $0 { v } else { nil } })
        case "UINT32": self = .uint32(collect { if case .uint32(let v) = $0 { v } else { nil } })
        case "INT32": self = .int32(collect { if case .int32(let v) = $0 { v } else { nil } })
        case "UINT64": self = .uint64(collect { if case .uint64(let v) = $0 { v } else { nil } })
        case "INT64": self = .int64(collect { if case .int64(let v) = $0 { v } else { nil } })
        case "FLOAT32": self = .float32(collect { if case .float32(let v) = $0 { v } else { nil } })
        case "FLOAT64": self = .float64(collect { if case .float64(let v) = $0 { v } else { nil } })
        case "BOOL": self = .bool(collect { if case .bool(let v) = $0 { v } else { nil } })
        case "STRING": self = .string(collect { if case .string(let v) = $0 { v } else { nil } })
        default: return nil
        }
    }
}
