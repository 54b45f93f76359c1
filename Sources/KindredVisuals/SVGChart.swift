import Foundation
import KindredCore

/// A plot area with linear axes, drawn as inline SVG: enough for the report's line, bar and
/// knife charts without a charting library (the page must work offline and vendor nothing).
struct SVGChart {
    let width: Double, height: Double
    let x: ClosedRange<Double>, y: ClosedRange<Double>
    var margin = (left: 56.0, right: 16.0, top: 14.0, bottom: 40.0)
    private(set) var body = ""

    init(width: Double = 560, height: Double = 300, x: ClosedRange<Double>, y: ClosedRange<Double>) {
        self.width = width
        self.height = height
        self.x = x.lowerBound == x.upperBound ? (x.lowerBound - 1)...(x.upperBound + 1) : x
        self.y = y.lowerBound == y.upperBound ? (y.lowerBound - 1)...(y.upperBound + 1) : y
    }

    func px(_ value: Double) -> Double {
        margin.left + (value - x.lowerBound) / (x.upperBound - x.lowerBound) * (width - margin.left - margin.right)
    }
    func py(_ value: Double) -> Double {
        height - margin.bottom - (value - y.lowerBound) / (y.upperBound - y.lowerBound)
            * (height - margin.top - margin.bottom)
    }

    mutating func axes(xLabel: String, yLabel: String, xTicks: [Double]? = nil, yTicks: [Double]? = nil) {
        let left = margin.left, bottom = height - margin.bottom, right = width - margin.right
        for t in yTicks ?? Self.ticks(y) {
            body += #"<line class="grid" x1="\#(f(left))" x2="\#(f(right))" y1="\#(f(py(t)))" y2="\#(f(py(t)))"/>"#
            body +=
                #"<text class="tick" x="\#(f(left - 6))" y="\#(f(py(t) + 4))" text-anchor="end">\#(Self.label(t))</text>"#
        }
        for t in xTicks ?? Self.ticks(x) {
            body +=
                #"<text class="tick" x="\#(f(px(t)))" y="\#(f(bottom + 16))" text-anchor="middle">\#(Self.label(t))</text>"#
        }
        body += #"<line class="axis" x1="\#(f(left))" x2="\#(f(right))" y1="\#(f(bottom))" y2="\#(f(bottom))"/>"#
        body += #"<line class="axis" x1="\#(f(left))" x2="\#(f(left))" y1="\#(f(margin.top))" y2="\#(f(bottom))"/>"#
        body +=
            #"<text class="label" x="\#(f((left + right) / 2))" y="\#(f(height - 6))" text-anchor="middle">\#(escape(xLabel))</text>"#
        body +=
            #"<text class="label" transform="translate(14 \#(f((margin.top + bottom) / 2))) rotate(-90)" text-anchor="middle">\#(escape(yLabel))</text>"#
    }

    mutating func line(_ points: [(Double, Double)], class name: String, dots: Bool = false) {
        guard !points.isEmpty else { return }
        body +=
            #"<polyline class="\#(name)" points="\#(points.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " "))"/>"#
        if dots {
            for p in points { body += #"<circle class="\#(name)" cx="\#(f(px(p.0)))" cy="\#(f(py(p.1)))" r="3"/>"# }
        }
    }

    mutating func horizontal(at value: Double, class name: String, label: String? = nil) {
        body +=
            #"<line class="\#(name)" x1="\#(f(margin.left))" x2="\#(f(width - margin.right))" y1="\#(f(py(value)))" y2="\#(f(py(value)))"/>"#
        if let label {
            body +=
                #"<text class="note" x="\#(f(width - margin.right - 4))" y="\#(f(py(value) - 5))" text-anchor="end">\#(escape(label))</text>"#
        }
    }

    mutating func vertical(at value: Double, class name: String, label: String? = nil) {
        body +=
            #"<line class="\#(name)" x1="\#(f(px(value)))" x2="\#(f(px(value)))" y1="\#(f(margin.top))" y2="\#(f(height - margin.bottom))"/>"#
        if let label {
            body += #"<text class="note" x="\#(f(px(value) + 5))" y="\#(f(margin.top + 12))">\#(escape(label))</text>"#
        }
    }

    /// A bar from (x0, y0) to (x1, y1) in data units.
    mutating func bar(x0: Double, x1: Double, y0: Double, y1: Double, fill: String, title: String) {
        let left = min(px(x0), px(x1)), top = min(py(y0), py(y1))
        body +=
            #"<rect class="bar" x="\#(f(left))" y="\#(f(top))" width="\#(f(abs(px(x1) - px(x0))))" height="\#(f(abs(py(y1) - py(y0))))" fill="\#(fill)"><title>\#(escape(title))</title></rect>"#
    }

    mutating func polygon(_ points: [(Double, Double)], fill: String, title: String) {
        body +=
            #"<polygon class="area" fill="\#(fill)" points="\#(points.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " "))"><title>\#(escape(title))</title></polygon>"#
    }

    mutating func text(_ content: String, x: Double, y: Double, anchor: String = "start", class name: String = "tick") {
        body +=
            #"<text class="\#(name)" x="\#(f(px(x)))" y="\#(f(py(y)))" text-anchor="\#(anchor)">\#(escape(content))</text>"#
    }

    func svg(name: String, title: String) -> String {
        #"<svg class="chart" data-chart="\#(name)" viewBox="0 0 \#(f(width)) \#(f(height))" width="\#(f(width))" height="\#(f(height))" role="img" aria-label="\#(escape(title))">\#(body)</svg>"#
    }

    /// About five round ticks across `range`.
    static func ticks(_ range: ClosedRange<Double>, count: Int = 5) -> [Double] {
        let span = range.upperBound - range.lowerBound
        guard span > 0, span.isFinite else { return [range.lowerBound] }
        let raw = span / Double(count), magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        return stride(from: ceil(range.lowerBound / step) * step, through: range.upperBound + step * 1e-9, by: step).map
        { $0 }
    }

    static func label(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e6 { return String(Int(value)) }
        if abs(value) >= 1e4 { return String(format: "%.3g", value) }
        return value.fixed(2)
    }

    private func f(_ value: Double) -> String { value.fixed(1) }
}

func escape(_ text: String) -> String { WebPage.escape(text) }

/// The colour of the k-th cluster (by size): golden-angle hues, as map.js colours them.
func clusterColour(_ k: Int) -> String {
    let hue = (Double(k) * 137.508).truncatingRemainder(dividingBy: 360)
    return "hsl(\(hue.fixed(1)), 70%, \(k % 2 == 1 ? 62 : 55)%)"
}
