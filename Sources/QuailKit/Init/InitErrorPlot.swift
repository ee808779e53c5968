// SPDX-License-Identifier: Apache-2.0
import Foundation

/// A self-contained SVG line chart of the per-layer relative calibrated error of one init method.
///
/// x is the block index, y the relative calibrated error `‖R·X‖² / ‖E0·X‖²` on `[0, max(1, largest value)]`
/// (rounded up to a tick); one polyline (with point markers) per module kind, in the order q, k, v, o, gate, up,
/// down, then any other names alphabetically. NaN, infinite or absurd values and negative block indices are left
/// out and counted in a note under the chart. No scripts, styles or external resources; the same input always
/// gives the same text.
public struct InitErrorPlot: Sendable {
    /// One value to plot.
    public struct Point: Sendable, Equatable {
        /// The block index.
        public let layer: Int
        /// The module kind (`q_proj`, `down_proj`, …).
        public let module: String
        /// `‖R·X‖² / ‖E0·X‖²`.
        public let relativeCalibratedError: Double

        /// Creates a point.
        public init(layer: Int, module: String, relativeCalibratedError: Double) {
            self.layer = layer
            self.module = module
            self.relativeCalibratedError = relativeCalibratedError
        }
    }

    /// The chart title.
    public let title: String
    /// The values, in any order.
    public let points: [Point]

    /// Describes a chart.
    public init(title: String, points: [Point]) {
        self.title = title
        self.points = points
    }

    /// The module kinds with at least one plottable value, in legend order.
    public var modules: [String] {
        let canonical = ["q", "k", "v", "o", "gate", "up", "down"]
        func rank(_ module: String) -> Int {
            let last = module.split(separator: ".").last.map(String.init) ?? module
            let kind = last.hasSuffix("_proj") ? String(last.dropLast("_proj".count)) : last
            return canonical.firstIndex(of: kind) ?? canonical.count
        }
        return Set(plottable.map(\.module)).sorted { (rank($0), $0) < (rank($1), $1) }
    }

    /// The points drawn: finite values up to 1e300 at block indices 0...1_000_000.
    private var plottable: [Point] {
        points.filter { abs($0.relativeCalibratedError) <= 1e300 && (0...1_000_000).contains($0.layer) }
    }

    private static let width = 640.0
    private static let height = 400.0
    private static let left = 70.0
    private static let right = 500.0
    private static let top = 50.0
    private static let bottom = 340.0
    private static let gridColor = "#dddddd"
    private static let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]

    /// The SVG document.
    public func svg() -> String {
        let shown = plottable
        let layers = shown.map(\.layer)
        let first = layers.min() ?? 0
        let span = Double(max((layers.max() ?? 1) - first, 1))
        let step = Self.niceStep(max(1, shown.map(\.relativeCalibratedError).max() ?? 0) / 5)
        let yTop = (max(1, shown.map(\.relativeCalibratedError).max() ?? 0) / step).rounded(.up) * step
        func x(_ layer: Int) -> Double { Self.left + Double(layer - first) / span * (Self.right - Self.left) }
        func y(_ value: Double) -> Double { Self.bottom - max(0, value) / yTop * (Self.bottom - Self.top) }

        var lines = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Self.fixed(Self.width))" "#
                + #"height="\#(Self.fixed(Self.height))" viewBox="0 0 \#(Self.fixed(Self.width)) "#
                + #"\#(Self.fixed(Self.height))" font-family="sans-serif" font-size="12">"#,
            "<title>\(Self.escaped(title))</title>",
            #"<rect x="0" y="0" width="\#(Self.fixed(Self.width))" height="\#(Self.fixed(Self.height))" "#
                + #"fill="white"/>"#,
            #"<text x="\#(Self.fixed(Self.width / 2))" y="25" text-anchor="middle" font-size="15">"#
                + "\(Self.escaped(title))</text>",
        ]
        // Horizontal grid and y ticks.
        for tick in 0...Int((yTop / step).rounded()) {
            let value = Double(tick) * step
            let yy = Self.fixed(y(value))
            lines.append(
                #"<line x1="\#(Self.fixed(Self.left))" y1="\#(yy)" x2="\#(Self.fixed(Self.right))" y2="\#(yy)" "#
                    + #"stroke="\#(Self.gridColor)"/>"#)
            lines.append(
                #"<text x="\#(Self.fixed(Self.left - 6))" y="\#(Self.fixed(y(value) + 4))" text-anchor="end">"#
                    + "\(Self.label(value))</text>")
        }
        // x ticks at block indices, at most about ten.
        let xStep = max(1, Int((span / 10).rounded(.up)))
        for layer in stride(from: first, through: first + Int(span), by: xStep) {
            let xx = Self.fixed(x(layer))
            lines.append(
                #"<line x1="\#(xx)" y1="\#(Self.fixed(Self.bottom))" x2="\#(xx)" y2="\#(Self.fixed(Self.bottom + 5))" "#
                    + #"stroke="black"/>"#)
            lines.append(
                #"<text x="\#(xx)" y="\#(Self.fixed(Self.bottom + 18))" text-anchor="middle">\#(layer)</text>"#)
        }
        lines += [
            #"<line x1="\#(Self.fixed(Self.left))" y1="\#(Self.fixed(Self.bottom))" x2="\#(Self.fixed(Self.right))" "#
                + #"y2="\#(Self.fixed(Self.bottom))" stroke="black"/>"#,
            #"<line x1="\#(Self.fixed(Self.left))" y1="\#(Self.fixed(Self.top))" x2="\#(Self.fixed(Self.left))" "#
                + #"y2="\#(Self.fixed(Self.bottom))" stroke="black"/>"#,
            #"<text x="\#(Self.fixed((Self.left + Self.right) / 2))" y="\#(Self.fixed(Self.bottom + 38))" "#
                + #"text-anchor="middle">block</text>"#,
            #"<text x="18" y="\#(Self.fixed((Self.top + Self.bottom) / 2))" text-anchor="middle" "#
                + #"transform="rotate(-90 18 \#(Self.fixed((Self.top + Self.bottom) / 2)))">"#
                + "relative calibrated error</text>",
        ]
        if shown.isEmpty {
            lines.append(
                #"<text x="\#(Self.fixed((Self.left + Self.right) / 2))" "#
                    + #"y="\#(Self.fixed((Self.top + Self.bottom) / 2))" text-anchor="middle">no data</text>"#)
        }
        for (index, module) in modules.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            let series = shown.enumerated().filter { $0.element.module == module }
                .sorted { ($0.element.layer, $0.offset) < ($1.element.layer, $1.offset) }.map(\.element)
            let coordinates = series.map { "\(Self.fixed(x($0.layer))),\(Self.fixed(y($0.relativeCalibratedError)))" }
            lines.append(
                #"<polyline fill="none" stroke="\#(color)" stroke-width="1.5" "#
                    + #"points="\#(coordinates.joined(separator: " "))"><title>\#(Self.escaped(module))</title>"#
                    + "</polyline>")
            for point in series {
                lines.append(
                    #"<circle cx="\#(Self.fixed(x(point.layer)))" "#
                        + #"cy="\#(Self.fixed(y(point.relativeCalibratedError)))" r="2.5" fill="\#(color)"/>"#)
            }
            let legendY = Self.top + 10 + Double(index) * 20
            lines.append(
                #"<line x1="515" y1="\#(Self.fixed(legendY))" x2="540" y2="\#(Self.fixed(legendY))" "#
                    + #"stroke="\#(color)" stroke-width="2"/>"#)
            lines.append(
                #"<text x="546" y="\#(Self.fixed(legendY + 4))">\#(Self.escaped(module))</text>"#)
        }
        let hidden = points.count - shown.count
        if hidden > 0 {
            lines.append(
                #"<text x="\#(Self.fixed(Self.left))" y="\#(Self.fixed(Self.height - 8))">"#
                    + "\(hidden) value(s) not shown (NaN, infinite or out of range)</text>")
        }
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The smallest of 1, 2, 2.5, 5 × 10^k that is at least `raw` (positive).
    static func niceStep(_ raw: Double) -> Double {
        let base = pow(10, floor(log10(raw)))
        return [1, 2, 2.5, 5, 10].map { $0 * base }.first { $0 >= raw * (1 - 1e-12) } ?? 10 * base
    }

    /// `value` with two decimals, locale-independent.
    static func fixed(_ value: Double) -> String {
        let hundredths = Int((abs(value) * 100).rounded())
        let sign = value < 0 && hundredths != 0 ? "-" : ""
        let fraction = hundredths % 100
        return "\(sign)\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// A tick label: up to three decimals, trailing zeros dropped.
    static func label(_ value: Double) -> String {
        guard abs(value) < 1e9 else { return "\(value)" }
        let thousandths = Int((value * 1000).rounded())
        let whole = "\(thousandths / 1000)"
        var fraction = String(String(thousandths % 1000 + 1000).dropFirst())
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? whole : "\(whole).\(fraction)"
    }

    /// `text` with the XML special characters escaped and the control characters XML 1.0 forbids dropped.
    static func escaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n": out.append(character)
            default:
                let forbidden = character.unicodeScalars.contains {
                    $0.value < 0x20 || $0.value == 0xFFFE || $0.value == 0xFFFF
                }
                if !forbidden { out.append(character) }
            }
        }
        return out
    }
}
