import ArgumentParser
import Foundation
import KindredAnalysis
import KindredCore
import KindredIndex

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one analysis step offline on a .npy matrix: PCA, UMAP, HDBSCAN or k-means.",
        discussion: "Each reads float32 .npy, writes .npy, and prints one JSON line with wall_s and its statistics.",
        subcommands: [AnalyzePCA.self, AnalyzeUMAP.self, AnalyzeHDBSCAN.self, AnalyzeKMeans.self]
    )
}

/// --in and --out, shared by every step.
struct AnalysisFiles: ParsableArguments {
    @Option(name: .customLong("in"), help: "An n × d float32 .npy matrix.", completion: .file(extensions: ["npy"]))
    var input: String
    @Option(help: "Where to write the result (.npy).") var out: String

    func read() throws -> Matrix { try Npy.readMatrix(URL(fileURLWithPath: input)) }
}

/// Runs `body`, then prints its statistics with n, d and wall_s as one JSON line. `scores`, if
/// given, adds statistics computed after the clock stops (the peers' timings exclude them too).
func reportStep(
    _ step: String, _ x: Matrix, _ body: () throws -> [String: Any], scores: () throws -> [String: Any] = { [:] }
) throws {
    let start = ContinuousClock.now
    var fields = try body()
    fields["wall_s"] = elapsed(since: start)
    fields.merge(try scores()) { $1 }
    fields["step"] = step
    fields["n"] = x.rows
    fields["d"] = x.columns
    printJSONLine(fields)
}

func rounded(_ value: Double, _ places: Double = 10_000) -> Double { (value * places).rounded() / places }

struct AnalyzePCA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pca",
        abstract: "Principal components keeping a fraction of the variance; writes the projected rows.",
        discussion:
            "Covariance + LAPACK eigen-decomposition up to 4096 columns, randomised SVD above. The JSON carries the scree curve (cumulative explained variance of the first 128 components)."
    )

    @OptionGroup var files: AnalysisFiles
    @Option(help: "Keep the fewest components explaining this fraction of the variance.") var variance = 0.9
    @Option(name: .customLong("max-components"), help: "Never more than this many.") var maxComponents = 128

    func run() throws {
        let x = try files.read()
        try reportStep("pca", x) {
            let pca = try PCA.fit(x, options: PCA.Options(varianceTarget: variance, maxComponents: maxComponents))
            try Npy.write(pca.transform(x), to: URL(fileURLWithPath: files.out))
            return [
                "components": pca.components.rows, "explained": rounded(pca.explained),
                "scree": pca.cumulativeVarianceRatio.prefix(128).map { rounded($0) },
            ]
        }
    }
}

struct AnalyzeUMAP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "umap",
        abstract: "A UMAP layout of the rows (exact neighbours up to 20,000 rows, HNSW above).",
        discussion:
            "A fixed --seed and --threads give the same layout on every run (for the same neighbour graph: exact below 20,000 rows)."
    )

    enum MetricName: String, ExpressibleByArgument { case cosine, euclidean }

    @OptionGroup var files: AnalysisFiles
    @Option(help: "Neighbours per point, the point itself included (as umap-learn counts).") var neighbors = 15
    @Option(name: .customLong("min-dist"), help: "How tightly points may pack.") var minDist: Float = 0.1
    @Option(help: "Output dimensions.") var dims = 2
    @Option(help: "cosine or euclidean.") var metric = MetricName.cosine
    @Option(help: "Seeds the initialisation and the negative sampling.") var seed: UInt64 = 0
    @Option(help: "Threads for the neighbour graph and the optimisation.") var threads = ProcessInfo.processInfo
        .activeProcessorCount
    @Option(help: "Optimisation epochs (default: 500 up to 10,000 rows, else 200).") var epochs: Int?
    @Option(
        help:
            "Fit on a seeded sample of this many rows and place the others by the fit's transform, as kindredd's refit does above [refit] umap_sample (0: fit every row)."
    ) var sample = 0

    func run() throws {
        let x = try files.read()
        try reportStep("umap", x) {
            var options = UMAP.Options()
            options.neighbors = neighbors
            options.minDist = minDist
            options.dimensions = dims
            options.metric = metric == .cosine ? .cosine : .l2
            options.seed = seed
            options.threads = threads
            options.epochs = epochs
            guard sample >= 0 else { throw ValidationError("--sample must be 0 (every row) or a row count") }
            let umap: UMAP
            if sample > 0, sample < x.rows {
                try UMAP.validate(options)
                let graphs = try NeighborGraph.build(
                    x, fitting: NeighborGraph.sampleRows(x.rows, count: sample, seed: seed), k: neighbors - 1,
                    metric: options.metric, threads: threads)
                umap = try UMAP.fit(sampled: graphs, options: options)
            } else {
                umap = try UMAP.fit(x, options: options)
            }
            try Npy.write(umap.embedding, to: URL(fileURLWithPath: files.out))
            return [
                "dims": dims, "epochs": umap.epochs, "a": rounded(Double(umap.a)), "b": rounded(Double(umap.b)),
                "init": umap.initialisation, "fitted_rows": min(sample > 0 ? sample : x.rows, x.rows),
            ]
        }
    }
}

struct AnalyzeHDBSCAN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hdbscan",
        abstract: "HDBSCAN cluster labels (int32, −1 noise) for the rows, typically of a low-dimensional UMAP layout."
    )

    enum SelectionName: String, ExpressibleByArgument { case eom, leaf }

    @OptionGroup var files: AnalysisFiles
    @Option(name: .customLong("min-cluster-size"), help: "The smallest group that counts as a cluster.")
    var minClusterSize = 25
    @Option(
        name: .customLong("min-samples"),
        help: "A point's core distance is to its min-samples-th nearest other point (as the hdbscan library counts).")
    var minSamples = 10
    @Option(help: "Cluster selection: eom (excess of mass) or leaf.") var selection = SelectionName.eom
    @Flag(name: .customLong("allow-single-cluster"), help: "Allow the whole data set as one cluster.")
    var allowSingleCluster = false
    @Option(name: .customLong("probabilities-out"), help: "Also write membership probabilities (float32).")
    var probabilitiesOut: String?
    @Option(name: .customLong("outliers-out"), help: "Also write GLOSH outlier scores (float32).") var outliersOut:
        String?
    @Option(help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        let x = try files.read()
        var labels: [Int32] = [], clusters = 0
        try reportStep(
            "hdbscan", x,
            {
                var options = HDBSCAN.Options()
                options.minClusterSize = minClusterSize
                options.minSamples = minSamples
                options.selection = selection == .eom ? .eom : .leaf
                options.allowSingleCluster = allowSingleCluster
                options.threads = threads
                let result = try HDBSCAN.fit(x, options: options)
                try Npy.write(NpyArray(shape: [x.rows], values: result.labels), to: URL(fileURLWithPath: files.out))
                if let probabilitiesOut {
                    try Npy.write(
                        NpyArray(shape: [x.rows], values: result.probabilities),
                        to: URL(fileURLWithPath: probabilitiesOut))
                }
                if let outliersOut {
                    try Npy.write(
                        NpyArray(shape: [x.rows], values: result.outlierScores), to: URL(fileURLWithPath: outliersOut))
                }
                (labels, clusters) = (result.labels, result.clusterCount)
                let noise = Double(result.labels.filter { $0 < 0 }.count) / Double(max(1, x.rows))
                return ["clusters": result.clusterCount, "noise": rounded(noise)]
            },
            scores: {
                guard clusters >= 2 else { return [:] }
                let metrics = try ClusterMetrics.compute(x, labels: labels)
                return ["silhouette": rounded(metrics.silhouette), "silhouette_sample": metrics.sampleSize]
            })
    }
}

struct AnalyzeKMeans: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kmeans",
        abstract: "k-means labels (int32), k chosen over a range by silhouette; inertia is reported for the elbow."
    )

    @OptionGroup var files: AnalysisFiles
    @Option(help: "k, or a range lo..hi to choose from by silhouette.") var k = "2..20"
    @Option(help: "Restarts per k (the best inertia is kept).") var restarts = 3
    @Option(help: "Seeds k-means++ and the silhouette sample.") var seed: UInt64 = 0
    @Option(name: .customLong("silhouette-sample"), help: "Silhouette on at most this many rows.")
    var silhouetteSample = 10_000

    func validate() throws {
        guard range != nil else { throw ValidationError("--k: give a number or lo..hi with 2 ≤ lo ≤ hi, not '\(k)'") }
    }

    var range: ClosedRange<Int>? { KSelection.range(parsing: k) }

    func run() throws {
        let x = try files.read()
        try reportStep("kmeans", x) {
            var options = KMeans.Options()
            options.restarts = restarts
            options.seed = seed
            let selection = try KSelection.choose(x, ks: range!, options: options, silhouetteSample: silhouetteSample)
            try Npy.write(NpyArray(shape: [x.rows], values: selection.best.labels), to: URL(fileURLWithPath: files.out))
            let best = selection.candidates.first { $0.k == selection.bestK }!
            return [
                "k": selection.bestK, "silhouette": rounded(best.silhouette),
                "silhouette_sample": min(x.rows, silhouetteSample),
                "candidates": selection.candidates.map {
                    ["k": $0.k, "silhouette": rounded($0.silhouette), "inertia": rounded($0.inertia, 1)]
                },
            ]
        }
    }
}
