import Foundation
import KindredCore
import KindredStore

/// `kindred report`: a refit run on one HTML page of inline SVG charts — the PCA scree curve,
/// the silhouette knife plot, cluster sizes, the k-selection curve (k-means runs) — and the
/// run's parameters, timings and scores. Read from what the refit stored in the catalog.
public struct ReportDocument: Sendable {
    public let html: String
    public let run: Int64
    /// The charts drawn, by name (scree, knife, sizes, k_selection).
    public let charts: [String]

    public static func make(source: some RunSource, run id: Int64?) throws(VisualsError) -> ReportDocument {
        let run = try source.finishedRun(id)
        let clusters: [ClusterFacts]
        do { clusters = try source.clusters(run: run.id) } catch { throw .source("\(error)") }
        let metrics = RunMetrics(json: run.metrics) ?? RunMetrics()
        let parameters = object(run.parameters), timings = object(run.timings)
        let colourOf = Dictionary(uniqueKeysWithValues: clusters.enumerated().map { ($1.cluster, clusterColour($0)) })

        var figures: [(name: String, html: String)] = []
        if case let scree = metrics.pcaScree, !scree.isEmpty {
            figures.append(
                (
                    "scree",
                    figure(
                        "PCA: cumulative explained variance",
                        screeChart(
                            scree, target: metrics.varianceTarget > 0 ? metrics.varianceTarget : nil,
                            kept: metrics.pcaComponents > 0 ? metrics.pcaComponents : nil),
                        "Components kept: \(metrics.pcaComponents) of the first \(scree.count) shown.")
                ))
        }
        if let knife = metrics.silhouetteKnife, !knife.isEmpty {
            figures.append(
                (
                    "knife",
                    figure(
                        "Silhouette per cluster",
                        knifeChart(
                            knife, order: clusters.map(\.cluster), colourOf: colourOf,
                            titleOf: Dictionary(uniqueKeysWithValues: clusters.map { ($0.cluster, $0.title) }),
                            mean: run.silhouette),
                        "Each cluster's members by silhouette, highest first (noise excluded; \(metrics.silhouetteSample ?? 0) points scored). Dashed: the mean."
                    )
                ))
        }
        if !clusters.isEmpty {
            let noise = Int(((run.noiseFraction ?? 0) * Double(run.itemCount ?? 0)).rounded())
            figures.append(
                (
                    "sizes",
                    figure(
                        "Cluster sizes", sizesChart(clusters, noise: noise, colourOf: colourOf),
                        "\(clusters.count) clusters; noise \(percent(run.noiseFraction ?? 0)) (\(noise) items).")
                ))
        }
        if let candidates = metrics.kCandidates, !candidates.isEmpty {
            figures.append(
                (
                    "k_selection",
                    figure(
                        "k-means: choosing k", kChart(candidates, chosen: run.clusterCount),
                        "Silhouette (blue, left axis) and inertia (orange, right axis) for each k tried; dashed: the k chosen by silhouette."
                    )
                ))
        }

        var body = #"<p class="lead">\#(escape(summary(run)))</p>"#
        body += #"<div class="charts">"# + figures.map(\.html).joined() + "</div>"
        if figures.isEmpty {
            body +=
                #"<p class="empty">This run stored no chart data (it predates the report, or had too few clusters).</p>"#
        }
        body += #"<div class="charts" style="margin-top:20px">"#
        body += figure("Run", table(runFacts(run, metrics: metrics)), nil)
        if !clusters.isEmpty {
            // Each cluster's name (a user's, else the run's label from its members) and size.
            body += figure(
                "Clusters",
                table(
                    clusters.prefix(60).map {
                        ("\($0.cluster)", "\($0.name ?? $0.label ?? "—") · \($0.size) items")
                    }),
                clusters.count > 60 ? "The 60 largest of \(clusters.count)." : nil)
        }
        body += figure(
            "Parameters", table(parameters.sorted { $0.key < $1.key }.map { ($0.key, describe($0.value)) }), nil)
        body += figure(
            "Timings (seconds)", table(timings.sorted { $0.key < $1.key }.map { ($0.key, describe($0.value)) }), nil)
        body += "</div>"
        let title = "Kindred refit report · run \(run.id)"
        let html = WebPage.fill(
            "report.html", ["TITLE": escape(title), "CSS": WebAssets.files["report.css"]!, "BODY": body])
        return ReportDocument(html: html, run: run.id, charts: figures.map(\.name))
    }

    private static func screeChart(_ scree: [Double], target: Double?, kept: Int?) -> String {
        var chart = SVGChart(x: 1...Double(max(2, scree.count)), y: 0...1)
        chart.axes(xLabel: "principal components", yLabel: "cumulative explained variance")
        chart.line(scree.enumerated().map { (Double($0 + 1), $1) }, class: "curve")
        if let target { chart.horizontal(at: target, class: "target", label: "target \(percent(target))") }
        if let kept, kept <= scree.count { chart.vertical(at: Double(kept), class: "chosen", label: "\(kept) kept") }
        return chart.svg(name: "scree", title: "PCA scree curve")
    }

    /// The classic knife plot: clusters stacked vertically, each member a horizontal sliver as
    /// long as its silhouette (stored as up to 200 quantiles per cluster).
    private static func knifeChart(
        _ knife: [String: RunMetrics.Knife], order: [Int], colourOf: [Int: String], titleOf: [Int: String],
        mean: Double?
    ) -> String {
        let entries = order.compactMap { id -> (id: Int, n: Int, values: [Double])? in
            guard let entry = knife[String(id)], !entry.values.isEmpty else { return nil }
            return (id, entry.n, entry.values)
        }
        let total = entries.reduce(0) { $0 + $1.n }, gap = max(1.0, Double(total) * 0.01)
        let lowest = min(-0.1, entries.flatMap(\.values).min() ?? 0)
        var chart = SVGChart(
            height: max(300, min(900, 60 + Double(entries.count) * 14)), x: lowest...1,
            y: 0...(Double(total) + gap * Double(entries.count + 1)))
        chart.margin.left = 70
        chart.axes(xLabel: "silhouette", yLabel: "clusters", yTicks: [])
        var base = gap
        for entry in entries {
            let step = Double(entry.n) / Double(entry.values.count)
            var outline: [(Double, Double)] = [(0, base + Double(entry.n))]
            for (i, value) in entry.values.enumerated() {
                outline.append((value, base + Double(entry.n) - Double(i) * step))
                outline.append((value, base + Double(entry.n) - Double(i + 1) * step))
            }
            outline.append((0, base))
            chart.polygon(
                outline, fill: colourOf[entry.id] ?? "#999",
                title: "\(titleOf[entry.id] ?? "cluster \(entry.id)"): \(entry.n) scored")
            chart.text("\(entry.id)", x: lowest, y: base + Double(entry.n) / 2, anchor: "end")
            base += Double(entry.n) + gap
        }
        chart.vertical(at: 0, class: "axis")
        if let mean { chart.vertical(at: mean, class: "target", label: "mean \(mean.fixed(3))") }
        return chart.svg(name: "knife", title: "Silhouette knife plot")
    }

    private static func sizesChart(_ clusters: [ClusterFacts], noise: Int, colourOf: [Int: String]) -> String {
        var bars = clusters.map {
            (
                label: "\($0.cluster)", title: "\($0.cluster) · \($0.title)", size: $0.size,
                colour: colourOf[$0.cluster] ?? "#999"
            )
        }
        if noise > 0 { bars.append(("noise", "noise", noise, "#9aa0a8")) }
        let tallest = Double(bars.map(\.size).max() ?? 1)
        var chart = SVGChart(x: 0...Double(bars.count), y: 0...tallest)
        chart.axes(xLabel: "clusters, largest first", yLabel: "items", xTicks: [])
        for (i, bar) in bars.enumerated() {
            chart.bar(
                x0: Double(i) + 0.1, x1: Double(i) + 0.9, y0: 0, y1: Double(bar.size), fill: bar.colour,
                title: "\(bar.title): \(bar.size)")
            if bars.count <= 40 { chart.text(bar.label, x: Double(i) + 0.5, y: -0.06 * tallest, anchor: "middle") }
        }
        return chart.svg(name: "sizes", title: "Cluster sizes")
    }

    private static func kChart(_ candidates: [RunMetrics.KCandidate], chosen: Int?) -> String {
        let points = candidates.map { (k: Double($0.k), silhouette: $0.silhouette, inertia: $0.inertia) }.sorted {
            $0.k < $1.k
        }
        let ks = (points.first?.k ?? 2)...(points.last?.k ?? 3)
        let sRange = (points.map(\.silhouette).min() ?? 0)...(points.map(\.silhouette).max() ?? 1)
        let iRange = (points.map(\.inertia).min() ?? 0)...(points.map(\.inertia).max() ?? 1)
        var chart = SVGChart(x: ks, y: sRange)
        chart.margin.right = 64
        chart.axes(xLabel: "k", yLabel: "silhouette")
        chart.line(points.map { ($0.k, $0.silhouette) }, class: "curve", dots: true)
        // Inertia on its own scale, mapped into the silhouette axis, labelled on the right.
        let span = iRange.upperBound - iRange.lowerBound, sSpan = sRange.upperBound - sRange.lowerBound
        let toS = { (i: Double) in sRange.lowerBound + (span > 0 ? (i - iRange.lowerBound) / span : 0.5) * sSpan }
        chart.line(points.map { ($0.k, toS($0.inertia)) }, class: "curve2", dots: true)
        for t in SVGChart.ticks(iRange, count: 4) {
            chart.text(SVGChart.label(t), x: ks.upperBound, y: toS(t), anchor: "start")
        }
        if let chosen { chart.vertical(at: Double(chosen), class: "chosen", label: "k = \(chosen)") }
        return chart.svg(name: "k_selection", title: "k selection")
    }

    private static func figure(_ title: String, _ content: String, _ caption: String?) -> String {
        "<figure><h2>\(escape(title))</h2>\(content)" + (caption.map { "<figcaption>\(escape($0))</figcaption>" } ?? "")
            + "</figure>"
    }

    private static func table(_ rows: [(String, String)]) -> String {
        "<table>" + rows.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined() + "</table>"
    }

    private static func summary(_ run: RefitRun) -> String {
        let finished = run.finishedAt.map { Date(timeIntervalSince1970: TimeInterval($0)).formatted(.iso8601) } ?? "?"
        return
            "\(run.itemCount ?? 0) items, \(run.clusterCount ?? 0) clusters by \(run.algorithm), noise \(percent(run.noiseFraction ?? 0)), "
            + "silhouette \(run.silhouette.map { $0.fixed(3) } ?? "n/a"); finished \(finished)."
    }

    private static func runFacts(_ run: RefitRun, metrics: RunMetrics) -> [(String, String)] {
        var rows: [(String, String)] = [
            ("run", "\(run.id)"), ("algorithm", run.algorithm), ("items", "\(run.itemCount ?? 0)"),
            ("clusters", "\(run.clusterCount ?? 0)"),
            ("noise fraction", percent(run.noiseFraction ?? 0)),
            ("silhouette (noise excluded)", run.silhouette.map { $0.fixed(4) } ?? "n/a"),
        ]
        if let value = metrics.daviesBouldin { rows.append(("davies bouldin", describe(value))) }
        if let value = metrics.silhouetteSample { rows.append(("silhouette sample", describe(value))) }
        if let value = metrics.umapFitted { rows.append(("umap fitted on (the rest placed)", describe(value))) }
        if metrics.pcaComponents > 0 {
            rows.append(("pca components", describe(metrics.pcaComponents)))
            rows.append(("pca explained", describe(metrics.pcaExplained)))
        }
        rows.append(
            ("new clusters", metrics.born.isEmpty ? "none" : metrics.born.map(String.init).joined(separator: ", ")))
        rows.append(
            (
                "vanished clusters",
                metrics.vanished.isEmpty ? "none" : metrics.vanished.map(String.init).joined(separator: ", ")
            ))
        return rows
    }

    private static func object(_ json: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
    }

    private static func describe(_ value: Any) -> String {
        switch value {
        case let d as Double where d != d.rounded(): String(format: "%.4g", d)
        case let a as [Any]: a.map(describe).joined(separator: ", ")
        default: "\(value)"
        }
    }

    private static func percent(_ fraction: Double) -> String { String(format: "%.1f %%", fraction * 100) }
}
