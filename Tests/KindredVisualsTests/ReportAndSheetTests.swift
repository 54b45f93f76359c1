import Foundation
import KindredImaging
import KindredStore
import KindredVisuals
import Testing

@Suite("Refit report and contact sheets")
struct ReportAndSheetTests {
    @Test func reportChartsRenderInChromium() throws {
        let fixture = try RunFixture(items: 90, algorithm: "kmeans")
        let report = try ReportDocument.make(source: fixture.catalog, run: nil)
        #expect(report.charts == ["scree", "knife", "sizes", "k_selection"])
        let page = fixture.directory.appendingPathComponent("report.html")
        try Data(report.html.utf8).write(to: page)
        let shot = fixture.directory.appendingPathComponent("report.png")
        let result = try Browser.open(
            page,
            [
                "--height", "1400", "--screenshot", shot.path,
                // Per chart: its name, rendered width, and how many marks it drew.
                "--eval",
                "[...document.querySelectorAll('svg.chart')].map(s => [s.dataset.chart, s.getBBox().width, s.querySelectorAll('polyline, rect, polygon, circle').length])",
                "--eval", "document.body.innerText",
            ])
        #expect(result["console"] as? [String] == [])
        #expect(result["exceptions"] as? [String] == [])
        let values = result["eval"] as? [Any] ?? []
        let charts = values.first as? [[Any]] ?? []
        #expect(charts.compactMap { $0.first as? String } == ["scree", "knife", "sizes", "k_selection"])
        for chart in charts {
            #expect((chart[1] as? Double ?? Double(chart[1] as? Int ?? 0)) > 200, "\(chart[0]) has a size on screen")
            #expect(chart[2] as? Int ?? 0 >= 1, "\(chart[0]) drew marks")
        }
        // The knife plot draws one sliver polygon per cluster; the sizes chart one bar per cluster plus noise.
        #expect(charts[safe: 1]?[2] as? Int == 3)
        #expect(charts[safe: 2]?[2] as? Int == 4)
        let text = values[safe: 1] as? String ?? ""
        for fact in ["min_cluster_size", "noise fraction", "davies bouldin", "total"] {
            #expect(text.contains(fact), "report lists \(fact)")
        }
        let stats = try PixelStatistics(png: shot, background: (0xfa, 0xfa, 0xfa))
        #expect(stats.changedFraction > 0.05 && stats.distinctColours > 20)
    }

    @Test func contactSheetHasEveryImageWithCaptions() throws {
        let fixture = try RunFixture(items: 30)
        let rows = [0, 1, 2, fixture.missing, 4, 5, 6]
        let entries = rows.enumerated().map { rank, row in
            ContactSheet.Entry(
                path: fixture.paths[row], caption: (fixture.paths[row] as NSString).lastPathComponent,
                detail: "#\(rank + 1)")
        }
        var options = ContactSheet.Options()
        options.cell = 40  // the 48 × 36 images shrink to fill most of a cell
        options.columns = 4
        let sheet = try ContactSheet.render(title: "Cluster 0", entries: entries, options: options)
        #expect(sheet.failures.map(\.path) == [fixture.paths[fixture.missing]])
        #expect(sheet.failures.first?.reason.isEmpty == false)
        // Two rows of four 40 px cells with 16 px margins and 10 px gaps.
        #expect(sheet.image.width == 2 * 16 + 4 * 40 + 3 * 10)
        let url = fixture.directory.appendingPathComponent("sheet.jpg")
        try Data(try sheet.jpeg()).write(to: url)
        var decode = DecodeOptions()
        decode.targetShortSide = 1 << 20
        let decoded = try ImageDecoder.decode(file: url, options: decode)
        #expect(
            decoded.format == .jpeg && decoded.image.width == sheet.image.width
                && decoded.image.height == sheet.image.height)

        // Every cell that had an image differs from the empty cell colour; the missing one does not.
        func changed(x: Int, y: Int, width: Int, height: Int, base: (Int, Int, Int)) -> Double {
            var count = 0
            for yy in y..<(y + height) {
                for xx in x..<(x + width) {
                    let p = (yy * sheet.image.width + xx) * 3
                    let (r, g, b) = (
                        Int(sheet.image.pixels[p]), Int(sheet.image.pixels[p + 1]), Int(sheet.image.pixels[p + 2])
                    )
                    if abs(r - base.0) + abs(g - base.1) + abs(b - base.2) > 30 { count += 1 }
                }
            }
            return Double(count) / Double(width * height)
        }
        #expect(sheet.frames.count == rows.count)
        for (index, row) in rows.enumerated() {
            let f = sheet.frames[index]
            let image = changed(x: f.x, y: f.y, width: f.side, height: f.side, base: (14, 15, 18))
            if row == fixture.missing {
                #expect(image == 0)
            } else {
                #expect(image > 0.3, "cell \(index) shows its image")
            }
            let caption = changed(x: f.x, y: f.y + f.side, width: f.side, height: f.captionHeight, base: (24, 26, 31))
            #expect(caption > 0.01, "cell \(index) has a caption (\(caption))")
        }
    }

    @Test func aMissingFontIsAClearError() throws {
        var options = ContactSheet.Options()
        options.fontPath = "/nonexistent/font.ttf"
        #expect(throws: VisualsError.self) { try ContactSheet.render(title: "x", entries: [], options: options) }
    }
}
