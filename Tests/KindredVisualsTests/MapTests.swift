import Foundation
import KindredCore
import KindredImaging
import KindredStore
import KindredTestSupport
import Logging
import Testing

@testable import KindredVisuals

@Suite("Map page, in headless Chromium")
struct MapTests {
    static let background = (0x15, 0x17, 0x1c)

    func write(_ fixture: RunFixture, dims: Int, thumbnails: Int = 32) throws -> (URL, MapDocument) {
        var options = MapDocument.Options()
        options.dimensions = dims
        options.thumbnailSize = thumbnails
        let map = try MapDocument.make(source: fixture.catalog, options: options, logger: testLogger)
        let url = fixture.directory.appendingPathComponent("map-\(dims)d.html")
        try Data(map.html.utf8).write(to: url)
        return (url, map)
    }

    /// A noise item far from every other on the 2-D map, inside the default view: hovering it
    /// cannot pick a neighbour instead.
    func isolatedRow(_ fixture: RunFixture) -> Int {
        let candidates = fixture.points.indices.filter { i in
            fixture.labels[i] < 0 && i != fixture.missing && (0...10).contains(fixture.points[i].0)
                && (0...8).contains(fixture.points[i].1)
        }
        func gap(_ i: Int) -> Float {
            fixture.points.indices.filter { $0 != i }.map { j in
                let (p, q) = (fixture.points[i], fixture.points[j])
                return (p.0 - q.0) * (p.0 - q.0) + (p.1 - q.1) * (p.1 - q.1)
            }.min()!
        }
        return candidates.max { gap($0) < gap($1) }!
    }

    @Test func everyPointIsDrawnAndHoverClickAndSearchWork() throws {
        let fixture = try RunFixture()
        let (page, map) = try write(fixture, dims: 2)
        #expect(map.points == fixture.paths.count)
        #expect(map.thumbnailFailures.map(\.path) == [fixture.paths[fixture.missing]])
        let row = isolatedRow(fixture)
        let shot = fixture.directory.appendingPathComponent("map.png")
        let result = try Browser.open(
            page,
            [
                "--wait-for", "window.kindredMap && kindredMap.thumbnailsReady", "--screenshot", shot.path,
                "--hover", "\(row)", "--click", "\(row)",
                "--eval", "kindredMap.pointCount", "--eval", "document.body.dataset.drawnPoints",
                "--eval",
                "[...document.querySelectorAll('#legend li .count')].reduce((s, e) => s + Number(e.textContent.replace(/\\D/g, '')), 0)",
                "--eval", "kindredMap.resetView(true)", "--eval",
                "new Promise(r => requestAnimationFrame(() => r(kindredMap.drawnPoints)))",
            ])
        #expect(result["console"] as? [String] == [], "console errors")
        #expect(result["exceptions"] as? [String] == [], "exceptions")
        let values = result["eval"] as? [Any] ?? []
        #expect(values.first as? Int == fixture.paths.count, "point count")
        #expect(values[safe: 2] as? Int == fixture.paths.count, "legend counts add up to the collection")
        #expect(values[safe: 4] as? Int == fixture.paths.count, "after Fit all every point is drawn")
        #expect(
            Int(values[safe: 1] as? String ?? "") ?? 0 >= fixture.paths.count * 95 / 100,
            "the default view shows the bulk")

        let hover = result["hover"] as? [String: Any] ?? [:]
        #expect(hover["hovered"] as? Int == row)
        #expect(hover["tooltip_visible"] as? Bool == true)
        #expect(
            (hover["tooltip"] as? String ?? "").contains(fixture.paths[row]),
            "the tooltip shows the hovered item's path")
        #expect((hover["tooltip"] as? String ?? "").contains("noise"))

        let click = result["click"] as? [String: Any] ?? [:]
        #expect(click["selected"] as? Int == row)
        let expected = fixture.neighbours[row].map {
            ($0 < fixture.paths.count ? fixture.paths[$0] as NSString : "").lastPathComponent
        }
        #expect(click["neighbours"] as? [String] == expected, "a click lists the item's precomputed nearest neighbours")

        // The canvas (left of the 300 px panel) is not blank: points in several cluster colours.
        let stats = try PixelStatistics(png: shot, region: (0, 0, 980, 800), background: Self.background)
        #expect(stats.changedFraction > 0.002, "canvas has drawn points (\(stats.changedFraction))")
        #expect(stats.distinctColours >= 4, "clusters in distinct colours (\(stats.distinctColours))")
    }

    @Test func searchAndClusterFilterNarrowWhatIsDrawn() throws {
        let fixture = try RunFixture(items: 120)
        let (page, _) = try write(fixture, dims: 2, thumbnails: 0)
        let name = (fixture.paths[42] as NSString).lastPathComponent
        let result = try Browser.open(
            page,
            [
                "--wait-for", "window.kindredMap", "--before", "kindredMap.resetView(true)", "--search", name,
                "--eval", "kindredMap.search('')",
                "--eval", "document.querySelector('#legend li[data-cluster=\"-1\"]').click()",
                "--eval", "new Promise(r => requestAnimationFrame(() => r(kindredMap.drawnPoints)))",
            ])
        #expect(result["console"] as? [String] == [])
        let search = result["search"] as? [String: Any] ?? [:]
        #expect(search["matches"] as? [String] == [fixture.paths[42]])
        #expect(search["drawn"] as? Int == 1)
        let values = result["eval"] as? [Any] ?? []
        #expect(
            values[safe: 2] as? Int == fixture.labels.filter { $0 >= 0 }.count,
            "hiding noise leaves the clustered items")
    }

    /// Terms known in advance: neighbour slot s of any item has cnn cosine 0.9 − 0.1·s, style
    /// cosine 0.2 + 0.1·s, 4·s differing hash bits, and a thumbnail correlation of 0.95 in slot 2
    /// (0.3 elsewhere), so the dominant term changes down the list.
    struct KnownExplainer: MatchExplainer {
        let weights = FusionWeights(style: 2, phash: 0.2, region: 1, regionFloor: 0.5)
        func terms(_ s: Int) -> MatchTerms {
            weights.terms(
                cnn: 0.9 - 0.1 * Float(s), style: 0.2 + 0.1 * Float(s), phashBits: 4 * s, region: s == 2 ? 0.95 : 0.3)
        }
        func explain(_ item: ItemID, neighbours: [ItemID]) -> [MatchTerms?] {
            neighbours.indices.map { s in s == 1 ? nil : terms(s) }
        }
    }

    @Test func theNeighbourListExplainsEachMatch() throws {
        let fixture = try RunFixture(items: 60)
        var options = MapDocument.Options()
        options.thumbnailSize = 0
        let map = try MapDocument.make(
            source: fixture.catalog, explainer: KnownExplainer(), options: options, logger: testLogger)
        let page = fixture.directory.appendingPathComponent("explained.html")
        try Data(map.html.utf8).write(to: page)
        let row = isolatedRow(fixture)
        let result = try Browser.open(
            page,
            [
                "--wait-for", "window.kindredMap", "--click", "\(row)",
                "--eval", "[...document.querySelectorAll('#neighbours li .count')].map(e => e.title)",
            ])
        #expect(result["exceptions"] as? [String] == [], "exceptions")
        let shown = fixture.neighbours[row].count
        #expect(map.explainedPairs == fixture.neighbours.map { max(0, $0.count - 1) }.reduce(0, +))
        let lines = (result["click"] as? [String: Any])?["neighbours"] as? [String] ?? []
        #expect(lines.count == shown)
        let expected = (0..<shown).filter { $0 != 1 }.map { KnownExplainer().terms($0) }
        let titles = (result["eval"] as? [Any])?.first as? [String] ?? []
        #expect(titles.count == expected.count, "the unexplained neighbour has no score")
        for (terms, title) in zip(expected, titles) {
            // "score S = cnn C + style T + phash P + region R (B of 64 hash bits differ; …)", to the
            // page's fixed-point precision.
            let words = title.split(separator: " ")
            let numbers = [1, 4, 7, 10, 13].compactMap { Float(words[safe: $0] ?? "") }
            let wanted = [terms.score, terms.cnn, terms.style, terms.phash, terms.region]
            #expect(numbers.count == 5 && zip(numbers, wanted).allSatisfy { abs($0 - $1) < 2e-4 }, "\(title)")
            #expect(words[safe: 14] == "(\(terms.phashBits)", "\(title)")
        }
        // Down the list the dominant term moves from the CNN to style, with the thumbnails' match
        // on top in slot 2, as the terms say.
        #expect(lines.first?.hasSuffix("cnn") == true && lines.last?.hasSuffix("style") == true, "\(lines)")
        #expect(lines[safe: 2]?.hasSuffix("region") == true, "\(lines)")
    }

    /// A file in a watched folder names itself: markup in its name is shown as text, and cannot
    /// end or swallow the page's scripts. "<!--<script>" in the data block would put the HTML
    /// parser into the script element's escaped states, where the block's own "</script>" no
    /// longer ends it and the map's code becomes data.
    @Test func fileNamesWithMarkupAreShownAsText() throws {
        let hostile = ["<!--<script>x.png", "<script>alert(1)<.png", "a&b<img src=x>.png"]
        let fixture = try RunFixture(items: 60) {
            $0 < hostile.count ? hostile[$0] : String(format: "item-%04d.png", $0)
        }
        let (page, map) = try write(fixture, dims: 2)
        #expect(map.points == 60)
        let result = try Browser.open(
            page,
            [
                "--wait-for", "window.kindredMap", "--hover", "0",
                "--eval", "kindredMap.pointCount", "--eval", "document.querySelectorAll('script').length",
                "--eval", "document.querySelectorAll('img[src=x]').length",
            ])
        #expect(result["console"] as? [String] == [], "console errors")
        #expect(result["exceptions"] as? [String] == [], "exceptions")
        let values = result["eval"] as? [Any] ?? []
        #expect(values.first as? Int == 60, "the map's script ran")
        #expect(values[safe: 1] as? Int == 2, "the data block and the map's script, nothing more")
        #expect(values[safe: 2] as? Int == 0, "no element made from a name")
        let hover = result["hover"] as? [String: Any] ?? [:]
        #expect(hover["hovered"] as? Int == 0)
        #expect((hover["tooltip"] as? String ?? "").contains(fixture.paths[0]), "the name is shown as it is")
    }

    @Test func theDataBlockWritesEveryLessThanAsAnEscape() {
        #expect(MapDocument.dataBlock(Data(#"{"a":"plain"}"#.utf8)) == #"{"a":"plain"}"#)
        #expect(MapDocument.dataBlock(Data("<a<<b<".utf8)) == #"\u003ca\u003c\u003cb\u003c"#)
        #expect(MapDocument.dataBlock(Data()) == "")
        #expect(MapDocument.dataBlock(Data("é<ü".utf8)) == #"é\u003cü"#)
    }

    @Test func threeDimensionalMapDrawsAndPicks() throws {
        let fixture = try RunFixture(items: 150)
        let (page, _) = try write(fixture, dims: 3)
        let shot = fixture.directory.appendingPathComponent("map3.png")
        let result = try Browser.open(
            page,
            [
                "--wait-for", "window.kindredMap", "--before", "kindredMap.resetView(true)", "--screenshot", shot.path,
                "--hover", "0",
                "--eval", "kindredMap.dims", "--eval", "kindredMap.drawnPoints",
            ])
        #expect(result["console"] as? [String] == [])
        #expect(result["exceptions"] as? [String] == [])
        let values = result["eval"] as? [Any] ?? []
        #expect(values.first as? Int == 3)
        #expect(values[safe: 1] as? Int == fixture.paths.count)
        let hover = result["hover"] as? [String: Any] ?? [:]
        let hovered = hover["hovered"] as? Int ?? -1
        #expect(hovered >= 0 && (hover["tooltip"] as? String ?? "").contains(fixture.paths[hovered]))
        let stats = try PixelStatistics(png: shot, region: (0, 0, 980, 800), background: Self.background)
        #expect(stats.changedFraction > 0.001)
    }

    /// Above 200k points a 2-D map draws density blocks from far out and only the points on
    /// screen nearer in, and picks through its grid: a million-point map stays interactive. The
    /// thresholds are lowered here so 40k points take that path in seconds (the 1M page is a
    /// benchmark: Benchmarks/RESULTS.md).
    @Test func largeMapsSwitchBetweenDensityAndPoints() throws {
        let fixture = try LargeRunFixture(items: 40_000)
        let page = try writeLargeMap(fixture, dims: 2, pointBudget: 25_000)
        // An item near the middle of a cluster, to zoom in on and hover.
        let row = 12_345
        let result = try Browser.open(
            page,
            [
                "--wait-for", "window.kindredMap && kindredMap.frames > 0", "--timeout", "240",
                "--before", "kindredMap.resetView(true)",
                "--before", "new Promise(r => requestAnimationFrame(() => r(0)))",
                "--before", "window.far = [kindredMap.level, kindredMap.drawnPoints]",
                "--before", "kindredMap.zoomTo(\(row), 120)",
                "--before", "new Promise(r => requestAnimationFrame(() => r(0)))",
                "--hover", "\(row)",
                "--eval", "far[0]", "--eval", "far[1]", "--eval", "kindredMap.level", "--eval",
                "kindredMap.drawnPoints",
                "--eval", "kindredMap.timeFrames(5)",
            ])
        #expect(result["exceptions"] as? [String] == [], "exceptions")
        let values = result["eval"] as? [Any] ?? []
        #expect(values[safe: 0] as? String == "density", "from far out, density")
        #expect(values[safe: 1] as? Int == 40_000, "the density view accounts for every point")
        #expect(values[safe: 2] as? String == "points", "close in, points")
        let near = values[safe: 3] as? Int ?? 0
        #expect(near > 0 && near < 10_000, "close in, only the points on screen (\(near))")
        let hover = result["hover"] as? [String: Any] ?? [:]
        #expect(hover["hovered"] as? Int == row, "picking through the grid finds the point under the cursor")
    }

    /// Above 200k points a 3-D map draws a fixed spread of `pointBudget` points while the view
    /// moves, and every point once input has been still for a moment: turning a million points
    /// stays smooth. A real drag (mouse events on the canvas) turns it; thresholds lowered as above.
    @Test func largeThreeDimensionalMapsDrawASpreadWhileTurning() throws {
        let fixture = try LargeRunFixture(items: 40_000)
        let page = try writeLargeMap(fixture, dims: 3, pointBudget: 10_000)
        let frame = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(0))))"
        let mouse = { (type: String, x: Int) in
            "document.getElementById('map').dispatchEvent(new MouseEvent('\(type)', {bubbles: true, clientX: \(x), clientY: 300, buttons: 1}))"
        }
        let result = try Browser.open(
            page,
            [
                "--wait-for", "window.kindredMap && kindredMap.frames > 0", "--timeout", "240",
                "--before", "kindredMap.resetView(true)", "--before", frame,
                "--before", "window.still = [kindredMap.level, kindredMap.drawnPoints]",
                "--before", mouse("mousedown", 300), "--before", mouse("mousemove", 340),
                "--before", mouse("mousemove", 380), "--before", frame,
                "--before", "window.turning = [kindredMap.level, kindredMap.drawnPoints]",
                "--before", "new Promise(r => setTimeout(() => r(0), 600))", "--before", frame,
                "--eval", "still[0]", "--eval", "still[1]", "--eval", "turning[0]", "--eval", "turning[1]",
                "--eval", "kindredMap.level", "--eval", "kindredMap.drawnPoints",
            ])
        #expect(result["exceptions"] as? [String] == [], "exceptions")
        let values = result["eval"] as? [Any] ?? []
        #expect(values[safe: 0] as? String == "points", "at rest, points")
        // (A few of the 40,000 fall outside the turned view: "every point" is every point on screen.)
        #expect(values[safe: 1] as? Int ?? 0 > 38_000, "at rest, every point")
        #expect(values[safe: 2] as? String == "spread", "while the drag turns the view, the spread")
        let turning = values[safe: 3] as? Int ?? 0
        #expect(turning > 5_000 && turning <= 10_000, "while turning, at most the budget (\(turning))")
        #expect(values[safe: 4] as? String == "points", "once still, points again")
        #expect(values[safe: 5] as? Int ?? 0 > 36_000, "once still, every point again")
    }

    /// A large fixture's map with the level-of-detail threshold lowered to 20,000 points.
    private func writeLargeMap(_ fixture: LargeRunFixture, dims: Int, pointBudget: Int) throws -> URL {
        var options = MapDocument.Options()
        options.thumbnailSize = 0
        options.dimensions = dims
        options.levelOfDetailAbove = 20_000
        options.pointBudget = pointBudget
        let map = try MapDocument.make(source: fixture.catalog, options: options, logger: testLogger)
        #expect(map.points == fixture.points.count)
        let page = fixture.directory.appendingPathComponent("large-\(dims).html")
        try Data(map.html.utf8).write(to: page)
        return page
    }

    @Test func largeMapsKeepThumbnailsForASpreadOfItems() {
        var random = SeededRandom(seed: 5)
        let coords = (0..<(2 * 200_000)).map { _ in Float(random.normal()) }
        let rows = MapDocument.spread(coords, dims: 2, limit: 40_000)
        #expect(rows.count <= 40_000 && rows.count > 10_000, "\(rows.count)")
        #expect(rows == rows.sorted() && Set(rows).count == rows.count)
        // Spread: the sample's extent is the data's.
        let xs = rows.map { coords[2 * $0] }, all = stride(from: 0, to: coords.count, by: 2).map { coords[$0] }
        #expect(xs.min()! <= all.min()! + 0.5 && xs.max()! >= all.max()! - 0.5)
        #expect(MapDocument.spread(Array(coords.prefix(200)), dims: 2, limit: 40_000) == Array(0..<100))
    }

    @Test func missingRunsAndBadOptionsAreClearErrors() throws {
        let fixture = try RunFixture(items: 40)
        var options = MapDocument.Options()
        options.run = 999
        #expect(throws: VisualsError.self) {
            try MapDocument.make(source: fixture.catalog, options: options, logger: testLogger)
        }
        do { _ = try MapDocument.make(source: fixture.catalog, options: options, logger: testLogger) } catch {
            #expect("\(error)".contains("run 999 does not exist"))
        }
        options.run = nil
        options.dimensions = 4
        do { _ = try MapDocument.make(source: fixture.catalog, options: options, logger: testLogger) } catch {
            #expect("\(error)" == "--dims 4: must be 2 or 3")
        }
        let empty = try Catalog(url: fixture.directory.appendingPathComponent("empty.sqlite"), logger: testLogger)
        do { _ = try ReportDocument.make(source: empty, run: nil) } catch {
            #expect("\(error)".contains("no finished refit yet"))
        }
    }

    @Test func embeddedPagesMatchTheirSourceFiles() throws {
        let web = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Sources/KindredVisuals/Web")
        let names = try FileManager.default.contentsOfDirectory(atPath: web.path).sorted()
        #expect(names == WebAssets.files.keys.sorted(), "run scripts/embed-web.sh")
        for name in names {
            #expect(
                try String(contentsOf: web.appendingPathComponent(name), encoding: .utf8) == WebAssets.files[name],
                "Web/\(name) changed: run scripts/embed-web.sh")
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
