// SPDX-License-Identifier: Apache-2.0
import Foundation
import SafeTensors
import TensorCore
import Testing

@Suite("Legal safetensors edge cases")
struct ReaderEdgeCaseTests {
    /// Opens `bytes` as a file; the mapping outlives the temporary directory's removal.
    private func open(_ bytes: [UInt8]) throws -> SafeTensorsFile {
        let directory = try TemporaryDirectory()
        return try SafeTensorsFile(contentsOf: try directory.file("model.safetensors", bytes))
    }

    @Test("zero-size tensors and scalars are accepted, and zero-size tensors may share an offset")
    func zeroSizeAndScalar() throws {
        let json = #"{"empty":{"dtype":"F32","shape":[0,5],"data_offsets":[0,0]},"#
            + #""scalar":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"#
            + #""tail":{"dtype":"I8","shape":[3,0],"data_offsets":[8,8]}}"#
        let data: [UInt8] = [0, 0, 0, 0, 0, 0, 0xF0, 0x3F]  // 1.0
        let file = try open(rawFile(json, data: data))
        #expect(file.tensors.map(\.name) == ["empty", "scalar", "tail"])
        let scalar = try #require(file["scalar"])
        #expect(scalar == SafeTensorsTensorInfo(name: "scalar", dtype: .f64, shape: [], byteRange: 0..<8))
        #expect(Array(file.bytes(of: scalar)) == data)
        let empty = try #require(file["empty"])
        #expect(empty.byteCount == 0)
        #expect(file.bytes(of: empty).isEmpty)
        #expect(file.metadata == nil)
    }

    @Test("a file with no tensors and an empty header object is accepted")
    func noTensors() throws {
        let file = try open(rawFile("{}"))
        #expect(file.tensors.isEmpty)
        #expect(file.headerByteCount == 2)
    }

    @Test("null, empty and string-valued __metadata__ are accepted", arguments: [
        (#"{"__metadata__":null}"#, nil),
        (#"{"__metadata__":{}}"#, [:]),
        (#"{"__metadata__":{"format":"pt","note":"é \"q\" \u00e9 \ud83d\ude00"}}"#, ["format": "pt", "note": "é \"q\" é 😀"]),
    ] as [(String, [String: String]?)])
    func metadataForms(json: String, expected: [String: String]?) throws {
        let file = try open(rawFile(json))
        #expect(file.metadata == expected)
    }

    @Test("leading and trailing JSON whitespace, key order and unknown entry fields are accepted")
    func lenientWhereTheReferenceIs() throws {
        // "b" is listed first but stored second; entries carry an extra field the reference ignores too.
        let json = " \n\t{\"b\":{\"shape\":[2],\"dtype\":\"U8\",\"data_offsets\":[2,4],\"extra\":[1,{\"x\":null}]},"
            + "\"a\" : { \"dtype\" : \"U8\" , \"shape\" : [ 2 ] , \"data_offsets\" : [ 0 , 2 ] } }\r\n   "
        let file = try open(rawFile(json, data: [1, 2, 3, 4]))
        #expect(file.tensors.map(\.name) == ["a", "b"])
        #expect(Array(file.bytes(of: try #require(file["b"]))) == [3, 4])
    }

    @Test("every supported dtype string is read with its element size")
    func everyDType() throws {
        var members: [String] = []
        var offset = 0
        for dtype in DType.allCases {
            members.append(#""\#(dtype.rawValue)":{"dtype":"\#(dtype.rawValue)","shape":[3],"data_offsets":[\#(offset),\#(offset + 3 * dtype.byteSize)]}"#)
            offset += 3 * dtype.byteSize
        }
        let file = try open(rawFile("{" + members.joined(separator: ",") + "}", data: Array(repeating: 0, count: offset)))
        for dtype in DType.allCases {
            #expect(file[dtype.rawValue]?.dtype == dtype)
            #expect(file[dtype.rawValue]?.byteCount == 3 * dtype.byteSize)
        }
    }

    @Test("the largest accepted integer is 2^53")
    func integerBoundary() throws {
        // A zero-size tensor with a 2^53 dimension: legal numbers, zero bytes.
        let json = #"{"a":{"dtype":"U8","shape":[0,9007199254740992],"data_offsets":[0,0]}}"#
        let file = try open(rawFile(json))
        #expect(file["a"]?.shape == [0, 9_007_199_254_740_992])
    }

    @Test("a file written by python safetensors (padding, metadata, ordering) is read as written")
    func referenceLayout() throws {
        // The exact 144-byte header python safetensors 0.8.0 wrote for {"x": float32 [2], "y": uint8 [1]}.
        let json = #"{"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
            + #""y":{"dtype":"U8","shape":[1],"data_offsets":[8,9]}}"# + "       "
        let file = try open(rawFile(json, data: Array(0..<9)))
        #expect(file.headerByteCount == 144)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.tensors.map(\.byteRange) == [0..<8, 8..<9])
    }
}
