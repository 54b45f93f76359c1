import Foundation
import KindredAnalysis
import KindredCore
import KindredEngine
import KindredFeatures
import KindredImaging
import KindredIndex
import TOMLKit

/// kindredd's settings: `Schema/kindred.toml` documents every key with its default, and
/// `ConfigurationTests` checks that file parses to exactly `Configuration()`. Command-line flags
/// override the file. Unknown keys are errors, not silently ignored, so a typo is caught at start.
public struct Configuration: Sendable, Equatable {
    // [daemon]
    public var stateDirectory: String?
    public var socket: String?
    public var logLevel = "info"
    /// Threads for extraction and index builds; 0 means one per core.
    public var threads = 0

    // [watch]
    public var roots: [String] = []
    public var include = WatchSettings.imageNames
    public var exclude: [String] = []
    public var hidden = false
    public var settleSeconds = 1.0
    public var pollSeconds = 30.0
    /// Directories under which WATCH may add roots; empty: any directory but `/` and the kernel's
    /// pseudo file systems (RootSet.forbidden).
    public var allowedPrefixes: [String] = []

    // [ingest]
    public var batchSize = 8
    public var maxPixels = 150_000_000
    public var maxFileBytes = 1 << 30
    /// The CNN's arithmetic as configured; `collectionSettings` holds what this CPU runs.
    public var cnnPrecision = StandardSpaces.precision

    // [index]
    /// 32, not the paper's 16: on CNN-like 1280-d vectors 16 links lose recall as a collection
    /// grows (RESULTS.md, "M for 1280-d vectors").
    public var connectivity = 32
    public var efConstruction = 200
    public var efSearch = 64
    public var encoding = VectorEncoding.int8
    public var snapshotSeconds = 300.0

    // [similar]
    public var fusion = Fusion()

    // [protocol]
    public var maxLineBytes = 64 * 1024
    /// Peers (besides kindredd's own user and root) allowed the admin verbs, by uid and by group name.
    public var adminUIDs: [Int] = []
    public var adminGroups: [String] = []
    public var maxConnections = 1024
    /// Of `maxConnections`, how many only an admin peer may take.
    public var adminReservedConnections = 8
    /// Requests one connection may have unanswered before kindredd stops reading from it.
    public var maxInFlight = 16
    /// Heavy requests (SIMILAR-IMAGE, DUPLICATES, CLUSTER, MAP, SIMILAR with within=) run on this
    /// many threads of their own; at most `heavyQueue` wait, beyond which they are refused.
    public var heavyWorkers = 1
    public var heavyQueue = 16
    /// Bytes of SIMILAR-IMAGE payloads kindredd holds at once, over every connection; a request
    /// past it is refused as busy before its bytes are buffered.
    public var imageBytesInFlight = 256 << 20
    /// Seconds a client may leave its waiting answers untaken before it is disconnected.
    public var sendTimeoutSeconds = 60
    /// Bytes a second a client must take of its waiting answers, measured over each
    /// `sendTimeoutSeconds`, or be disconnected; 0: any byte a period will do.
    public var sendMinBytesPerSecond = 1024

    // [refit]
    public var refit = RefitSection()

    public init() {}

    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// The largest configuration file read (Schema/kindred.toml, every key with its comment, is 12 KB).
    static let maxFileBytes = 1 << 20

    /// Reads a TOML file over the defaults.
    public static func load(file: URL) throws(ConfigurationError) -> Configuration {
        let bytes: [UInt8]
        do { bytes = try FileIO.readWhole(file.path, limit: maxFileBytes) } catch {
            throw ConfigurationError(key: nil, reason: "\(error)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError(key: nil, reason: "\(file.path) is not UTF-8 text")
        }
        return try parse(text, source: file.path)
    }

    /// Parses TOML text over the defaults, then validates the result.
    public static func parse(
        _ text: String, source: String = "configuration"
    ) throws(ConfigurationError) -> Configuration {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw ConfigurationError(
                key: nil,
                reason:
                    "\(source) line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)"
            )
        } catch {
            throw ConfigurationError(key: nil, reason: "\(source): \(error)")
        }
        var configuration = Configuration()
        var reader = Reader(table: table)
        try reader.section("daemon") { (r) throws(ConfigurationError) in
            configuration.stateDirectory =
                try r.string("state").flatMap { $0.isEmpty ? nil : $0 } ?? configuration.stateDirectory
            configuration.socket = try r.string("socket").flatMap { $0.isEmpty ? nil : $0 } ?? configuration.socket
            configuration.logLevel = try r.string("log_level") ?? configuration.logLevel
            configuration.threads = try r.integer("threads") ?? configuration.threads
        }
        try reader.section("watch") { (r) throws(ConfigurationError) in
            configuration.roots = try r.strings("roots") ?? configuration.roots
            configuration.include = try r.strings("include") ?? configuration.include
            configuration.exclude = try r.strings("exclude") ?? configuration.exclude
            configuration.hidden = try r.bool("hidden") ?? configuration.hidden
            configuration.settleSeconds = try r.number("settle_seconds") ?? configuration.settleSeconds
            configuration.pollSeconds = try r.number("poll_seconds") ?? configuration.pollSeconds
            configuration.allowedPrefixes = try r.strings("allowed_prefixes") ?? configuration.allowedPrefixes
        }
        try reader.section("ingest") { (r) throws(ConfigurationError) in
            configuration.batchSize = try r.integer("batch_size") ?? configuration.batchSize
            configuration.maxPixels = try r.integer("max_pixels") ?? configuration.maxPixels
            configuration.maxFileBytes = try r.integer("max_file_bytes") ?? configuration.maxFileBytes
            configuration.cnnPrecision =
                try r.choice("cnn_precision", of: CNNPrecisionChoice.self) ?? configuration.cnnPrecision
        }
        try reader.section("index") { (r) throws(ConfigurationError) in
            configuration.connectivity = try r.integer("m") ?? configuration.connectivity
            configuration.efConstruction = try r.integer("ef_construction") ?? configuration.efConstruction
            configuration.efSearch = try r.integer("ef_search") ?? configuration.efSearch
            configuration.encoding = try r.choice("encoding", of: VectorEncoding.self) ?? configuration.encoding
            configuration.snapshotSeconds = try r.number("snapshot_seconds") ?? configuration.snapshotSeconds
        }
        try reader.section("similar") { (r) throws(ConfigurationError) in
            configuration.fusion.weights.style = Float(
                try r.number("style_weight") ?? Double(configuration.fusion.weights.style))
            configuration.fusion.weights.phash = Float(
                try r.number("phash_weight") ?? Double(configuration.fusion.weights.phash))
            configuration.fusion.weights.region = Float(
                try r.number("region_weight") ?? Double(configuration.fusion.weights.region))
            configuration.fusion.weights.regionFloor = Float(
                try r.number("region_floor") ?? Double(configuration.fusion.weights.regionFloor))
            configuration.fusion.regionForItems = try r.bool("region_items") ?? configuration.fusion.regionForItems
            configuration.fusion.candidates = try r.integer("candidates") ?? configuration.fusion.candidates
            let standard = configuration.fusion.expansion ?? .standard
            let neighbours = try r.integer("expand_neighbours") ?? configuration.fusion.expansion?.neighbours ?? 0
            let below = Float(try r.number("expand_below") ?? Double(standard.below))
            configuration.fusion.expansion =
                neighbours == 0 ? nil : Fusion.QueryExpansion(neighbours: neighbours, below: below)
        }
        try reader.section("protocol") { (r) throws(ConfigurationError) in
            configuration.maxLineBytes = try r.integer("max_line_bytes") ?? configuration.maxLineBytes
            configuration.adminUIDs = try r.integers("admin_uids") ?? configuration.adminUIDs
            configuration.adminGroups = try r.strings("admin_groups") ?? configuration.adminGroups
            configuration.maxConnections = try r.integer("max_connections") ?? configuration.maxConnections
            // Unset, the reserve shrinks with a small max_connections rather than refuse it.
            configuration.adminReservedConnections =
                try r.integer("admin_reserved_connections")
                ?? min(configuration.adminReservedConnections, max(0, configuration.maxConnections - 1))
            configuration.maxInFlight = try r.integer("max_in_flight") ?? configuration.maxInFlight
            configuration.heavyWorkers = try r.integer("heavy_workers") ?? configuration.heavyWorkers
            configuration.heavyQueue = try r.integer("heavy_queue") ?? configuration.heavyQueue
            configuration.imageBytesInFlight =
                try r.integer("image_bytes_in_flight") ?? configuration.imageBytesInFlight
            configuration.sendTimeoutSeconds =
                try r.integer("send_timeout_seconds") ?? configuration.sendTimeoutSeconds
            configuration.sendMinBytesPerSecond =
                try r.integer("send_min_bytes_per_second") ?? configuration.sendMinBytesPerSecond
        }
        try reader.section("refit") { (r) throws(ConfigurationError) in
            var refit = configuration.refit
            refit.schedule = try r.string("schedule") ?? refit.schedule
            refit.afterNewFraction = try r.number("after_new_fraction") ?? refit.afterNewFraction
            refit.algorithm = try r.string("algorithm") ?? refit.algorithm
            refit.variance = try r.number("variance") ?? refit.variance
            refit.maxComponents = try r.integer("max_components") ?? refit.maxComponents
            refit.neighbors = try r.integer("neighbors") ?? refit.neighbors
            refit.minDist = try r.number("min_dist").map(Float.init) ?? refit.minDist
            refit.umapSample = try r.integer("umap_sample") ?? refit.umapSample
            refit.clusterDimensions = try r.integer("cluster_dims") ?? refit.clusterDimensions
            refit.minClusterSize = try r.integer("min_cluster_size") ?? refit.minClusterSize
            refit.minSamples = try r.integer("min_samples") ?? refit.minSamples
            refit.kRange = try r.string("k") ?? refit.kRange
            refit.keepRuns = try r.integer("keep_runs") ?? refit.keepRuns
            refit.matchJaccard = try r.number("match_jaccard") ?? refit.matchJaccard
            refit.seed = try r.integer("seed").map { UInt64(max(0, $0)) } ?? refit.seed
            configuration.refit = refit
        }
        try reader.rejectUnknown()
        try configuration.validate()
        return configuration
    }

    /// Every rule a value must meet, with the key that breaks it.
    public func validate() throws(ConfigurationError) {
        func require(_ ok: Bool, _ key: String, _ reason: String) throws(ConfigurationError) {
            if !ok { throw ConfigurationError(key: key, reason: reason) }
        }
        try require(
            Self.logLevels.contains(logLevel), "daemon.log_level",
            "'\(logLevel)' is not one of \(Self.logLevels.joined(separator: ", "))")
        try require((0...1024).contains(threads), "daemon.threads", "\(threads) must be 0 (one per core) to 1024")
        for root in roots {
            try require(root.utf8.first == UInt8(ascii: "/"), "watch.roots", "'\(root)' must be an absolute path")
        }
        for prefix in allowedPrefixes {
            try require(
                (try? CollectionPath(prefix)) != nil, "watch.allowed_prefixes",
                "'\(prefix)' must be an absolute path without . or .. components")
        }
        for pattern in include + exclude {
            try require(!pattern.isEmpty, "watch.include/exclude", "an empty pattern matches nothing")
        }
        try require(
            settleSeconds >= 0 && settleSeconds <= 3600, "watch.settle_seconds", "\(settleSeconds) must be 0 to 3600")
        try require(
            pollSeconds >= 1 && pollSeconds <= 86_400, "watch.poll_seconds", "\(pollSeconds) must be 1 to 86400")
        try require((1...256).contains(batchSize), "ingest.batch_size", "\(batchSize) must be 1 to 256")
        try require(maxPixels >= 1_000_000, "ingest.max_pixels", "\(maxPixels) must be at least 1000000")
        try require(maxFileBytes >= 1 << 20, "ingest.max_file_bytes", "\(maxFileBytes) must be at least 1048576")
        do {
            try HNSWParameters(connectivity: connectivity, efConstruction: efConstruction).validate(
                dimension: Space.cnn.dimension)
        } catch {
            throw ConfigurationError(key: "index.m/ef_construction", reason: "\(error)")
        }
        try require((1...10_000).contains(efSearch), "index.ef_search", "\(efSearch) must be 1 to 10000")
        try require(snapshotSeconds >= 10, "index.snapshot_seconds", "\(snapshotSeconds) must be at least 10")
        for (key, weight) in [
            ("style_weight", fusion.weights.style), ("phash_weight", fusion.weights.phash),
            ("region_weight", fusion.weights.region),
        ] {
            try require((0...10).contains(weight), "similar.\(key)", "\(weight) must be 0 to 10")
        }
        try require(
            (0...0.99).contains(fusion.weights.regionFloor), "similar.region_floor",
            "\(fusion.weights.regionFloor) must be 0 to 0.99")
        try require(
            (1...10_000).contains(fusion.candidates), "similar.candidates", "\(fusion.candidates) must be 1 to 10000")
        if let expansion = fusion.expansion {
            try require(
                (1...min(10, fusion.candidates)).contains(expansion.neighbours), "similar.expand_neighbours",
                "\(expansion.neighbours) must be 0 (no expansion) to 10, and at most similar.candidates")
            try require((0...1).contains(expansion.below), "similar.expand_below", "\(expansion.below) must be 0 to 1")
        }
        try require(
            (1024...(16 << 20)).contains(maxLineBytes), "protocol.max_line_bytes",
            "\(maxLineBytes) must be 1024 to 16777216")
        for uid in adminUIDs {
            try require((0...Int(UInt32.max - 1)).contains(uid), "protocol.admin_uids", "\(uid) is not a uid")
        }
        for group in adminGroups {
            try require(getgrnam(group) != nil, "protocol.admin_groups", "no group named '\(group)'")
        }
        try require(
            (1...1_000_000).contains(maxConnections), "protocol.max_connections",
            "\(maxConnections) must be 1 to 1000000")
        try require(
            (0..<maxConnections).contains(adminReservedConnections), "protocol.admin_reserved_connections",
            "\(adminReservedConnections) must be 0 to \(maxConnections - 1) (max_connections − 1)")
        try require((1...10_000).contains(maxInFlight), "protocol.max_in_flight", "\(maxInFlight) must be 1 to 10000")
        try require((1...64).contains(heavyWorkers), "protocol.heavy_workers", "\(heavyWorkers) must be 1 to 64")
        try require((0...10_000).contains(heavyQueue), "protocol.heavy_queue", "\(heavyQueue) must be 0 to 10000")
        try require(
            ((1 << 20)...(1 << 40)).contains(imageBytesInFlight), "protocol.image_bytes_in_flight",
            "\(imageBytesInFlight) must be 1048576 (1 MiB) to 1099511627776 (1 TiB)")
        try require(
            (1...86_400).contains(sendTimeoutSeconds), "protocol.send_timeout_seconds",
            "\(sendTimeoutSeconds) must be 1 to 86400")
        // At most the 1 MiB write water mark a second: a client above it is being served as fast
        // as kindredd writes, and the product with the timeout stays far from overflow.
        try require(
            (0...(1 << 20)).contains(sendMinBytesPerSecond), "protocol.send_min_bytes_per_second",
            "\(sendMinBytesPerSecond) must be 0 to 1048576 (1 MiB)")
        try refit.validate()
    }

    /// What the engine is given.
    public var collectionSettings: Collection.Settings {
        var settings = Collection.Settings()
        settings.watch = watchSettings
        settings.refit = refit.settings
        settings.hnsw = hnswParameters
        settings.cnnEncoding = encoding
        settings.threads = effectiveThreads
        settings.batchSize = batchSize
        settings.cnnPrecision = cnnPrecision.onThisCPU.precision
        settings.decode.pixelLimit = maxPixels
        settings.decode.maxFileBytes = maxFileBytes
        return settings
    }

    /// What the ingestion thread is given.
    public var watchSettings: WatchSettings {
        var settings = WatchSettings()
        settings.include = include
        settings.exclude = exclude
        settings.hidden = hidden
        settings.settleSeconds = settleSeconds
        settings.pollSeconds = pollSeconds
        settings.snapshotSeconds = snapshotSeconds
        return settings
    }

    public var hnswParameters: HNSWParameters {
        HNSWParameters(connectivity: connectivity, efConstruction: efConstruction)
    }
    public var effectiveThreads: Int { threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : threads }
}

/// A configuration that cannot be used: the key (as `section.name`) and why.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public let key: String?
    public let reason: String

    public init(key: String?, reason: String) {
        self.key = key
        self.reason = reason
    }

    public var description: String { key.map { "configuration key \($0): \(reason)" } ?? "configuration: \(reason)" }
}

/// Typed access to one TOML table that remembers which keys were read, so the rest can be
/// reported as unknown.
private struct Reader {
    let table: TOMLTable
    let prefix: String
    var seen: Set<String> = []

    init(table: TOMLTable, prefix: String = "") {
        self.table = table
        self.prefix = prefix
    }

    private func key(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

    mutating func section(
        _ name: String, _ body: (inout Reader) throws(ConfigurationError) -> Void
    ) throws(ConfigurationError) {
        seen.insert(name)
        guard let value = table[name] else { return }
        guard let child = value.table else {
            throw ConfigurationError(key: name, reason: "must be a table ([\(name)])")
        }
        var reader = Reader(table: child, prefix: name)
        try body(&reader)
        try reader.rejectUnknown()
    }

    func rejectUnknown() throws(ConfigurationError) {
        if let unknown = table.keys.sorted().first(where: { !seen.contains($0) }) {
            throw ConfigurationError(key: key(unknown), reason: "unknown key (Schema/kindred.toml lists every key)")
        }
    }

    private mutating func value(_ name: String) -> TOMLValueConvertible? {
        seen.insert(name)
        return table[name]
    }

    mutating func string(_ name: String) throws(ConfigurationError) -> String? {
        guard let value = value(name) else { return nil }
        guard let string = value.string else { throw ConfigurationError(key: key(name), reason: "must be a string") }
        return string
    }

    /// A string naming one of `T`'s cases.
    mutating func choice<T: RawRepresentable & CaseIterable>(
        _ name: String, of _: T.Type
    ) throws(ConfigurationError) -> T? where T.RawValue == String {
        guard let text = try string(name) else { return nil }
        guard let value = T(rawValue: text) else {
            throw ConfigurationError(
                key: key(name),
                reason: "'\(text)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    mutating func integer(_ name: String) throws(ConfigurationError) -> Int? {
        guard let value = value(name) else { return nil }
        guard let integer = value.int else { throw ConfigurationError(key: key(name), reason: "must be an integer") }
        return integer
    }

    /// A float or an integer (TOML keeps them apart; a user writing `settle_seconds = 2` means 2.0).
    mutating func number(_ name: String) throws(ConfigurationError) -> Double? {
        guard let value = value(name) else { return nil }
        if let double = value.double { return double }
        if let integer = value.int { return Double(integer) }
        throw ConfigurationError(key: key(name), reason: "must be a number")
    }

    mutating func bool(_ name: String) throws(ConfigurationError) -> Bool? {
        guard let value = value(name) else { return nil }
        guard let bool = value.bool else { throw ConfigurationError(key: key(name), reason: "must be true or false") }
        return bool
    }

    mutating func strings(_ name: String) throws(ConfigurationError) -> [String]? {
        try array(name, "strings") { $0.string }
    }

    mutating func integers(_ name: String) throws(ConfigurationError) -> [Int]? {
        try array(name, "integers") { $0.int }
    }

    /// An array whose every element `element` accepts.
    private mutating func array<T>(
        _ name: String, _ kind: String, _ element: (TOMLValueConvertible) -> T?
    ) throws(ConfigurationError) -> [T]? {
        guard let value = value(name) else { return nil }
        guard let array = value.array else {
            throw ConfigurationError(key: key(name), reason: "must be an array of \(kind)")
        }
        var values: [T] = []
        for item in array {
            guard let converted = element(item) else {
                throw ConfigurationError(key: key(name), reason: "must be an array of \(kind)")
            }
            values.append(converted)
        }
        return values
    }
}

/// The [refit] section as written (Schema/kindred.toml): when the collection is regrouped and
/// how. `settings` is what the engine is given once it is checked.
public struct RefitSection: Sendable, Equatable {
    /// The defaults are the engine's (`RefitSettings()`), written as the file spells them, so a
    /// default has one place.
    private static let engine = RefitSettings()
    private static let hdbscan: (minClusterSize: Int, minSamples: Int, layoutDimensions: Int) = {
        guard case .hdbscan(let size, let samples, let dimensions) = engine.algorithm else {
            preconditionFailure("RefitSettings' default algorithm is HDBSCAN")
        }
        return (size, samples, dimensions)
    }()

    /// A daily local time, "HH:MM"; empty for none.
    public var schedule = engine.scheduleMinutes.map { String(format: "%02d:%02d", $0 / 60, $0 % 60) } ?? ""
    /// Refit when this fraction of the collection is new since the last run; 0 for never.
    public var afterNewFraction = engine.afterNewFraction
    /// "hdbscan" (on a UMAP layout) or "kmeans" (on the PCA projection, k by silhouette).
    public var algorithm = engine.algorithm.name
    public var variance = engine.variance
    public var maxComponents = engine.maxComponents
    public var neighbors = engine.neighbors
    public var minDist = engine.minDist
    /// Fit UMAP on a sample of this many items above it; 0 for every item.
    public var umapSample = engine.umapSample
    /// Dimensions of the UMAP layout HDBSCAN clusters (the maps are 2-D and 3-D).
    public var clusterDimensions = hdbscan.layoutDimensions
    public var minClusterSize = hdbscan.minClusterSize
    public var minSamples = hdbscan.minSamples
    /// k-means' range of k (the engine has no k-means default: HDBSCAN is its default).
    public var kRange = "2..20"
    public var keepRuns = engine.keepRuns
    public var matchJaccard = engine.matchJaccard
    public var seed = engine.seed

    public init() {}

    /// The daily time as minutes after midnight, nil when none is set.
    public var scheduleMinutes: Int? {
        let parts = schedule.split(separator: ":").map { Int($0) }
        guard parts.count == 2, let h = parts[0], let m = parts[1], (0..<24).contains(h), (0..<60).contains(m) else {
            return nil
        }
        return h * 60 + m
    }

    public var ks: ClosedRange<Int>? { KSelection.range(parsing: kRange) }

    /// The engine's settings, with the algorithm carrying only its own parameters. Call after
    /// `validate`.
    public var settings: RefitSettings {
        var settings = RefitSettings()
        settings.scheduleMinutes = scheduleMinutes
        settings.afterNewFraction = afterNewFraction
        settings.algorithm =
            algorithm == "kmeans"
            ? .kmeans(ks: ks ?? 2...20)
            : .hdbscan(minClusterSize: minClusterSize, minSamples: minSamples, layoutDimensions: clusterDimensions)
        settings.variance = variance
        settings.maxComponents = maxComponents
        settings.neighbors = neighbors
        settings.minDist = minDist
        settings.umapSample = umapSample
        settings.keepRuns = keepRuns
        settings.matchJaccard = matchJaccard
        settings.seed = seed
        return settings
    }

    func validate() throws(ConfigurationError) {
        func require(_ ok: Bool, _ key: String, _ reason: String) throws(ConfigurationError) {
            if !ok { throw ConfigurationError(key: "refit." + key, reason: reason) }
        }
        try require(
            schedule.isEmpty || scheduleMinutes != nil, "schedule",
            "'\(schedule)' is not a time of day as HH:MM (or \"\" for none)")
        try require(
            afterNewFraction >= 0 && afterNewFraction <= 10, "after_new_fraction",
            "\(afterNewFraction) must be 0 (off) to 10")
        try require(["hdbscan", "kmeans"].contains(algorithm), "algorithm", "'\(algorithm)' is not hdbscan or kmeans")
        try require(variance > 0 && variance <= 1, "variance", "\(variance) must be a fraction in (0, 1]")
        try require((2...1024).contains(maxComponents), "max_components", "\(maxComponents) must be 2 to 1024")
        try require((2...200).contains(neighbors), "neighbors", "\(neighbors) must be 2 to 200")
        try require(minDist >= 0 && minDist <= 1, "min_dist", "\(minDist) must be 0 to 1")
        try require(
            umapSample == 0 || umapSample >= settings.minimumItems, "umap_sample",
            "\(umapSample) must be 0 (fit every item) or at least what a refit needs (\(settings.minimumItems))")
        try require((2...16).contains(clusterDimensions), "cluster_dims", "\(clusterDimensions) must be 2 to 16")
        try require(minClusterSize >= 2, "min_cluster_size", "\(minClusterSize) must be at least 2")
        try require(minSamples >= 1, "min_samples", "\(minSamples) must be at least 1")
        try require(ks != nil, "k", "'\(kRange)' is not k or lo..hi with 2 ≤ lo ≤ hi")
        try require((1...1000).contains(keepRuns), "keep_runs", "\(keepRuns) must be 1 to 1000")
        try require(matchJaccard > 0 && matchJaccard <= 1, "match_jaccard", "\(matchJaccard) must be in (0, 1]")
    }
}
