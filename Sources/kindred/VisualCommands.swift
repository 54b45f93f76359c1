import ArgumentParser
import Foundation
import KindredCore
import KindredProtocol
import KindredStore
import KindredVisuals

// What people look at: the map page and the refit report read the catalog directly (read-only,
// beside a running kindredd or without one) when the state directory is readable, and otherwise
// ask kindredd through its socket (RUN, RUN-CLUSTERS, RUN-MEMBERS, THUMBS), so a member of the
// socket's group needs no access to the state; contact sheets always ask kindredd.

/// Where `map` and `report` read the run: `--socket`, or an unreadable catalog, means kindredd.
struct RunSourceOptions: ParsableArguments {
    @OptionGroup var state: StateOptions
    @Option(
        help: "Ask kindredd at this socket instead of reading the state directory (the default when it cannot be read)."
    )
    var socket: String?

    var usesDaemon: Bool { socket != nil || access(state.paths.catalog.path, R_OK) != 0 }

    func daemon() throws -> DaemonRunSource {
        do { return DaemonRunSource(client: try SocketClient(path: SocketPath.resolve(explicit: socket))) } catch {
            throw ValidationError("cannot read \(state.paths.catalog.path) and cannot reach kindredd: \(error)")
        }
    }
}

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Write a refit run's map as one self-contained HTML page: thumbnails, clusters, neighbours, search.",
        discussion: """
            The page opens without a network connection and draws 100k points smoothly. Hover shows an item's \
            thumbnail, path and cluster; a click lists its nearest neighbours, each with its fused \
            score and its terms (SIMILAR's formula over the pair's own vectors, as EXPLAIN gives them: read from the stored vectors by the standard \
            weights, or asked of kindredd by its own through EXPLAIN); the legend filters clusters and hides noise. Prints one JSON line: out, run, points, atlases, bytes, thumbnail_failures, explained_pairs, seconds.
            """
    )

    @OptionGroup var source: RunSourceOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "Where to write the HTML.") var out: String
    @Option(name: .customLong("run"), help: "A run id (kindred runs); default: the current run.") var runID: Int64?
    @Option(help: "2 or 3.") var dims = 2
    @Option(
        name: .customLong("thumb-size"),
        help: ArgumentHelp(
            "Thumbnail side in pixels, 8–512; 0 for none.",
            discussion:
                "Default: 64, decoded from the files, up to 20,000 points; above that the 32-pixel thumbnails kindredd keeps."
        )) var thumbSize: Int?

    func run() throws {
        let started = ContinuousClock.now
        let logger = logging.logger("kindred.map")
        var options = MapDocument.Options()
        options.run = runID
        options.dimensions = dims
        options.thumbnailSize = thumbSize
        let map: MapDocument
        if source.usesDaemon {
            let daemon = try source.daemon()
            map = try MapDocument.make(
                source: daemon, thumbnails: DaemonThumbnails(source: daemon),
                explainer: DaemonMatchExplainer(source: daemon), options: options, logger: logger)
        } else {
            let catalog = try Catalog(url: source.state.paths.catalog, readOnly: true, logger: logger)
            // kindredd's stored thumbnails, read beside it (LMDB readers never block its writer).
            let store = try? VectorStore(
                directory: source.state.paths.vectors, spaces: [], includeRegistered: true, logger: logger)
            map = try MapDocument.make(
                source: catalog, thumbnails: store.flatMap { StoredThumbnails(store: $0) },
                explainer: store.map { StoredMatchExplainer(store: $0, logger: logger) }, options: options,
                logger: logger)
        }
        let bytes = try writeAtomically(Data(map.html.utf8), to: out)
        for failure in map.thumbnailFailures.prefix(10) {
            logger.warning("no thumbnail", metadata: ["path": "\(failure.path)", "reason": "\(failure.reason)"])
        }
        printJSONLine([
            "out": out, "run": map.run, "points": map.points, "atlases": map.atlasCount, "bytes": bytes,
            "thumb_size": map.thumbnailSize,
            "thumbnails_stored": map.storedThumbnails, "thumbnail_failures": map.thumbnailFailures.count,
            "explained_pairs": map.explainedPairs,
            "seconds": elapsed(since: started),
        ])
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract:
            "Write a refit run's report as HTML with inline SVG charts: PCA scree, silhouette per cluster, sizes, k selection.",
        discussion:
            "Also the run's parameters, timings, noise fraction and scores. Prints one JSON line: out, run, charts, bytes."
    )

    @OptionGroup var source: RunSourceOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "Where to write the HTML.") var out: String
    @Option(name: .customLong("run"), help: "A run id (kindred runs); default: the current run.") var runID: Int64?

    func run() throws {
        let report =
            source.usesDaemon
            ? try ReportDocument.make(source: try source.daemon(), run: runID)
            : try ReportDocument.make(
                source: try Catalog(
                    url: source.state.paths.catalog, readOnly: true, logger: logging.logger("kindred.report")),
                run: runID)
        let bytes = try writeAtomically(Data(report.html.utf8), to: out)
        printJSONLine(["out": out, "run": report.run, "charts": report.charts, "bytes": bytes])
    }
}

struct SheetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sheet",
        abstract:
            "Write a contact sheet (JPEG): a cluster's members nearest its centre, or the images most similar to a file.",
        discussion:
            "Asks kindredd for the images (CLUSTER or SIMILAR). Prints one JSON line: out, images, failures, width, height."
    )

    @OptionGroup var daemon: DaemonOptions
    @Option(help: "A cluster id (kindred clusters).") var cluster: Int?
    @Option(help: "An image file: its most similar images.") var similar: String?
    @Option(help: "Where to write the JPEG.") var out: String
    @Option(help: "How many images.") var count = 24
    @Option(help: "Cell side in pixels.") var cell = 240
    @Option(help: "Columns (default: about square).") var columns: Int?
    @Option(help: "A TrueType font for the captions.") var font = CaptionFont.defaultPath

    func validate() throws {
        guard (cluster == nil) != (similar == nil) else { throw ValidationError("give one of --cluster and --similar") }
        guard (1...400).contains(count) else { throw ValidationError("--count is 1 to 400") }
    }

    func run() throws {
        let entries: [ContactSheet.Entry], title: String
        if let cluster {
            // rank, id, path, probability, outlier_score
            let rows = try daemon.rows(.cluster(id: cluster, limit: count))
            entries = rows.map {
                ContactSheet.Entry(
                    path: $0[2], caption: ($0[2] as NSString).lastPathComponent,
                    detail: "#\($0[0]) · item \($0[1])" + (Double($0[3]).map { String(format: " · p %.2f", $0) } ?? ""))
            }
            // CLUSTERS: id, name, …; the name is the user's or the run's label.
            let name = try daemon.rows(.clusters).first { $0.first == String(cluster) }?[1]
            title =
                "Cluster \(cluster)\(name.map { " · \($0)" } ?? ""): the \(entries.count) members nearest its centre"
        } else {
            let (client, request, payload) = try similarRequest(daemon, file: similar!, SimilarQuery(k: count))
            // rank, score, id, path
            entries = try daemon.refusing(try client.ask(request, payload: payload)).map { f in
                return ContactSheet.Entry(
                    path: f[3], caption: (f[3] as NSString).lastPathComponent, detail: "#\(f[0]) · score \(f[1])")
            }
            title = "Most similar to \((similar! as NSString).lastPathComponent)"
        }
        var options = ContactSheet.Options()
        options.cell = cell
        options.columns = columns
        options.fontPath = font
        let sheet = try ContactSheet.render(title: title, entries: entries, options: options)
        _ = try writeAtomically(Data(try sheet.jpeg(quality: options.quality)), to: out)
        printJSONLine([
            "out": out, "images": entries.count, "failures": sheet.failures.count, "width": sheet.image.width,
            "height": sheet.image.height,
        ])
    }
}

/// Writes through a temporary file and a rename, so a reader never sees half a page; returns the size.
func writeAtomically(_ data: Data, to path: String) throws -> Int {
    do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
        throw ValidationError("cannot write \(path): \(error.localizedDescription)")
    }
    return data.count
}
