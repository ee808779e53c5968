// SPDX-License-Identifier: Apache-2.0
import Foundation
import QuailKit
import TensorCore
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The elements named `name` anywhere under `element`.
private func descendants(_ element: XMLElement, named name: String) -> [XMLElement] {
    let children = (element.children ?? []).compactMap { $0 as? XMLElement }
    return children.filter { $0.localName == name } + children.flatMap { descendants($0, named: name) }
}

/// The value of the attribute `name` (looked up by name: FoundationXML's `attribute(forName:)` misses attributes of
/// namespaced elements on Linux).
private func attribute(_ element: XMLElement, _ name: String) -> String? {
    element.attributes?.first { $0.name == name }?.stringValue
}

private func parse(_ svg: String) throws -> XMLElement {
    try #require(XMLDocument(data: Data(svg.utf8), options: []).rootElement())
}

@Suite("Init error plot")
struct InitErrorPlotTests {
    private static let kinds = ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]

    @Test("well-formed SVG: one polyline per module in q,k,v,o,gate,up,down order, one point per layer, in range")
    func structure() throws {
        var rng = SplitMix64(seed: 17)
        var points: [InitErrorPlot.Point] = []
        for layer in (0..<5).reversed() {
            for kind in Self.kinds {
                let value = rng.nextGaussian() * 0.3 + 0.5
                points.append(.init(layer: layer, module: kind, relativeCalibratedError: value))
            }
        }
        points.append(.init(layer: 2, module: "q_proj", relativeCalibratedError: 1.7))  // above 1: widens the axis
        let plot = InitErrorPlot(title: "closed-form <rank 8> & \"nf4\"", points: points)
        let root = try parse(plot.svg())
        #expect(root.localName == "svg")
        #expect(root.uri == "http://www.w3.org/2000/svg")
        #expect(descendants(root, named: "title").first?.stringValue == "closed-form <rank 8> & \"nf4\"")
        #expect(plot.modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])

        let polylines = descendants(root, named: "polyline")
        #expect(polylines.count == 7)
        for (polyline, module) in zip(polylines, plot.modules) {
            #expect(descendants(polyline, named: "title").first?.stringValue == module)
            let pairs = try #require(attribute(polyline, "points")).split(separator: " ")
            #expect(pairs.count == (module == "q_proj" ? 6 : 5))
            let xs = try pairs.map { try #require(Double($0.split(separator: ",")[0])) }
            let ys = try pairs.map { try #require(Double($0.split(separator: ",")[1])) }
            #expect(xs == xs.sorted())  // layers left to right
            #expect(ys.allSatisfy { (50...340).contains($0) })
        }
        // Legend: one entry per module; ticks reach 2 (the 1.7 value rounds the axis up to a tick).
        let texts = descendants(root, named: "text").compactMap(\.stringValue)
        #expect(plot.modules.allSatisfy { texts.contains($0) })
        #expect(texts.contains("2") && !texts.contains("2.5"))
        #expect(descendants(root, named: "script").isEmpty)
        #expect(!plot.svg().contains("href"))
    }

    @Test("NaN, infinite and negative-layer points are dropped and counted; empty input still renders axes")
    func degenerateInput() throws {
        let plot = InitErrorPlot(
            title: "t",
            points: [
                .init(layer: 0, module: "v_proj", relativeCalibratedError: .nan),
                .init(layer: 1, module: "v_proj", relativeCalibratedError: 0.25),
                .init(layer: 2, module: "v_proj", relativeCalibratedError: .infinity),
                .init(layer: 0, module: "q_proj", relativeCalibratedError: .nan),
                .init(layer: -1, module: "v_proj", relativeCalibratedError: 0.5),
            ])
        let root = try parse(plot.svg())
        let polylines = descendants(root, named: "polyline")
        #expect(polylines.count == 1)
        #expect(polylines.first.flatMap { attribute($0, "points") }?.split(separator: " ").count == 1)
        let texts = descendants(root, named: "text").compactMap(\.stringValue)
        #expect(texts.contains("4 value(s) not shown (NaN, infinite or out of range)"))
        #expect(texts.contains("1"))  // y axis spans [0, 1] at least

        let empty = try parse(InitErrorPlot(title: "nothing", points: []).svg())
        #expect(descendants(empty, named: "polyline").isEmpty)
        #expect(descendants(empty, named: "text").compactMap(\.stringValue).contains("no data"))
    }

    @Test("the same points give the same text in any input order")
    func deterministic() {
        let points = (0..<3).flatMap { layer in
            ["q_proj", "up_proj"].map { InitErrorPlot.Point(layer: layer, module: $0, relativeCalibratedError: 0.1) }
        }
        let svg = InitErrorPlot(title: "x", points: points).svg()
        #expect(svg == InitErrorPlot(title: "x", points: points.reversed()).svg())
        #expect(svg.hasPrefix("<?xml"))
    }
}
